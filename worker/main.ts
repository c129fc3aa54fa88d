/**
 * The worker process: one per deployment (more may run for capacity). Registers every workflow and
 * activity on the task queue, logs through pino, serves /healthz, /readyz and /metrics (SDK and business
 * metrics) on `httpAddress` when set (Core's own Prometheus endpoint on 127.0.0.1:METRICS_PORT as before), and
 * shuts down gracefully on SIGINT/SIGTERM: polling stops, running activities get shutdownGraceSeconds to
 * finish, then the Lamassu tunnel, the connections and the ledger pool are closed. Nothing is lost: Temporal
 * resumes any workflow on the next worker.
 */
import net from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import pg from 'pg';
import { loadConfig, ConfigError, type Config } from '../config';
import { diagnoseTemporalTls, temporalConnectOptions } from '../config/temporal-connection';
import { migrateLedger } from '../db/migrate';
import { POLLER_WORKFLOW_ID } from '../domain/constants';
import { createLogger, type Logger } from '../log/logger';
import { createWorkerActivities } from '../activities';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { installRuntime } from './runtime';
import { checkConfig } from '../client/config-check';
import { workflowSource } from './workflow-source';
import { startOpsServer, type OpsServer } from './ops-server';
import { createProbes } from './probes';
import { createBusinessMetrics } from './business-metrics';

export interface RunWorkerOptions {
  signal?: AbortSignal;
  /** The poller /readyz and the metrics watch (tests use their own id). */
  pollerWorkflowId?: string;
  /** Called once the worker polls its task queue (with the ops endpoint's URL when it serves one). */
  onRunning?: (info: { opsUrl?: string }) => void;
}

/** A free local port for Core's Prometheus exporter when only the ops endpoint was asked for. */
async function freeLocalPort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as net.AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export async function runWorker(config: Config, log: Logger, opts: RunWorkerOptions = {}): Promise<void> {
  if (!config.databaseUrl) throw new ConfigError('invalid config: databaseUrl: required (DATABASE_URL)');
  // Refuse a config that would move money wrongly (missing or wrong-kind keys, another wallet's key, a host
  // key that does not match). A service that cannot be reached now is only a warning: the activities retry.
  const check = await checkConfig(config);
  const failed = check.checks.filter((c) => c.status === 'fail');
  if (failed.length) throw new ConfigError(`config check failed, worker not started: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')} (satmachine config check)`);
  for (const c of check.checks.filter((x) => x.status === 'unreachable')) log.warn({ check: c.name, detail: c.detail }, 'config check could not verify');
  const sdkMetricsPort = config.metricsPort ?? (config.httpAddress ? await freeLocalPort() : undefined);
  const ownRuntime = installRuntime(log, { metricsPort: sdkMetricsPort });
  await migrateLedger(config.databaseUrl, (m) => log.debug(m));
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
  pool.on('error', (err) => log.error({ err: err.message }, 'ledger pool error'));
  const connectOptions = temporalConnectOptions(config.temporal);
  const closers: Array<[string, () => Promise<unknown>]> = [['ledger pool', () => pool.end()]];
  try {
    const connection = await NativeConnection.connect(connectOptions).catch(async (err: unknown) => {
      const tls = await diagnoseTemporalTls(config.temporal).catch(() => undefined);
      throw tls ? new Error(`Temporal at ${config.temporal.address}: ${tls}`) : err;
    });
    closers.unshift(['Temporal connection', () => connection.close()]);
    // One LNbits client per process (keys are passed per call, never stored in it).
    const built = createWorkerActivities({ config, pool, log, lnbits: createLnbitsClient({ url: config.lnbits.url, timeoutMs: config.lnbits.requestTimeoutMs }) });
    closers.unshift(['Lamassu connection', () => built.close()]);
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      ...workflowSource(),
      activities: built.activities,
      // SIGTERM: stop polling, let running activities finish (a payout in flight completes and is recorded).
      shutdownGraceTime: `${config.shutdownGraceSeconds} seconds`,
      maxCachedWorkflows: config.maxCachedWorkflows,
    });
    const stop = () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    };
    if (opts.signal?.aborted) return; // asked to stop while starting: never begin polling
    opts.signal?.addEventListener('abort', stop);

    let ops: OpsServer | undefined;
    if (config.httpAddress) {
      const clientConnection = await Connection.connect({ ...connectOptions, connectTimeout: '5 seconds' });
      closers.unshift(['Temporal client connection', () => clientConnection.close()]);
      const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
      const pollerWorkflowId = opts.pollerWorkflowId ?? POLLER_WORKFLOW_ID;
      const probes = createProbes({ config, pool, client, pollerWorkflowId, workerState: () => worker.getState() });
      const business = createBusinessMetrics({ pool, client, pollerWorkflowId, onError: (what, err) => log.warn({ err: err.message, what }, 'business metric not collected') });
      const sdkMetricsUrl = ownRuntime && sdkMetricsPort ? `http://127.0.0.1:${sdkMetricsPort}/metrics` : undefined;
      ops = await startOpsServer(config.httpAddress, {
        health: probes.health,
        ready: probes.ready,
        metrics: async () => {
          const sdk = sdkMetricsUrl ? await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(3_000) }).then((r) => r.text()).catch(() => '') : '';
          return { contentType: business.contentType, body: `${sdk.trimEnd()}\n${await business.metrics()}` };
        },
      }, (err) => log.warn({ err: err.message }, 'ops endpoint error'));
      closers.unshift(['ops endpoint', () => ops!.close()]);
    }
    const running = worker.run();
    log.info({ address: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue, ops: ops?.url }, 'worker started');
    opts.onRunning?.({ opsUrl: ops?.url });
    await running;
    log.info('worker stopped');
  } finally {
    for (const [what, close] of closers) await close().catch((err: unknown) => log.warn({ err: (err as Error).message }, `closing the ${what} failed`));
  }
}

if (require.main === module) {
  const log = createLogger();
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    log.fatal((err as Error).message);
    process.exit(2);
  }
  // Exit once the worker has drained: nothing the process still holds (timers of libraries) may keep it up.
  // The Temporal Runtime turns SIGINT/SIGTERM into worker.shutdown(); runWorker then closes everything.
  runWorker(config, createLogger({ level: config.log.level }), { pollerWorkflowId: process.env.SATMACHINE_POLLER_WORKFLOW_ID || undefined }).then(
    () => process.exit(0),
    (err: unknown) => {
      log.fatal({ err: (err as Error).message }, 'worker failed');
      process.exit(1);
    },
  );
}
