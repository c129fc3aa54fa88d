/**
 * The worker process: one per deployment (more may run for capacity). Registers every workflow and
 * activity on the task queue, logs through pino, exposes Prometheus metrics when METRICS_PORT is set,
 * and shuts down gracefully on SIGINT/SIGTERM (running activities finish, nothing is lost: Temporal
 * resumes any workflow on the next worker).
 */
import { NativeConnection, Worker } from '@temporalio/worker';
import pg from 'pg';
import { loadConfig, ConfigError, type Config } from '../config';
import { migrateLedger } from '../db/migrate';
import { createLogger, type Logger } from '../log/logger';
import { createWorkerActivities } from '../activities';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { installRuntime } from './runtime';
import { checkConfig } from '../client/config-check';

export async function runWorker(config: Config, log: Logger, opts: { signal?: AbortSignal } = {}): Promise<void> {
  if (!config.databaseUrl) throw new ConfigError('invalid config: databaseUrl: required (DATABASE_URL)');
  // Refuse a config that would move money wrongly (missing or wrong-kind keys, another wallet's key, a host
  // key that does not match). A service that cannot be reached now is only a warning: the activities retry.
  const check = await checkConfig(config);
  const failed = check.checks.filter((c) => c.status === 'fail');
  if (failed.length) throw new ConfigError(`config check failed, worker not started: ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ')} (satmachine config check)`);
  for (const c of check.checks.filter((x) => x.status === 'unreachable')) log.warn({ check: c.name, detail: c.detail }, 'config check could not verify');
  installRuntime(log, { metricsPort: config.metricsPort });
  await migrateLedger(config.databaseUrl, (m) => log.debug(m));
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 10 });
  pool.on('error', (err) => log.error({ err: err.message }, 'ledger pool error'));
  const connection = await NativeConnection.connect({
    address: config.temporal.address,
    tls: config.temporal.tls || undefined,
    apiKey: config.temporal.apiKey,
  });
  // One LNbits client per process (keys are passed per call, never stored in it).
  const built = createWorkerActivities({ config, pool, log, lnbits: createLnbitsClient({ url: config.lnbits.url, timeoutMs: config.lnbits.requestTimeoutMs }) });
  try {
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      workflowsPath: require.resolve('../workflows'),
      activities: built.activities,
    });
    const stop = () => {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    };
    if (opts.signal?.aborted) return; // asked to stop while starting: never begin polling
    opts.signal?.addEventListener('abort', stop);
    log.info({ address: config.temporal.address, namespace: config.temporal.namespace, taskQueue: config.temporal.taskQueue }, 'worker started');
    await worker.run();
    log.info('worker stopped');
  } finally {
    await built.close().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'closing the Lamassu connection failed'));
    await connection.close();
    await pool.end();
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
  runWorker(config, createLogger({ level: config.log.level })).then(
    () => process.exit(0),
    (err: unknown) => {
      log.fatal({ err: (err as Error).message }, 'worker failed');
      process.exit(1);
    },
  );
}
