/**
 * The worker's operations endpoint on the real worker process (httpAddress, as deployed): /healthz once it
 * polls; /readyz ready with a polling poller and a reachable ledger, not ready when the poller is paused or
 * the ledger refuses connections; /metrics with the SDK's metrics and the business metrics after a cash-out
 * (counted from the ledger sat for sat); SIGTERM drains and exits 0.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startCashOut } from '../client/cashout';
import { ensurePollerStarted, pausePoller, resumePoller } from '../client/poller';
import { cashOutWorkflowId } from '../domain/constants';
import type { CashOutResult } from '../workflows/cashout';
import { cashOutRow, ledgerTransaction, withCashOutWorld } from './support/cashout-fixture';
import { createLamassuDatabase } from './support/lamassu-db';
import { freePort } from './support/ports';
import { getStack } from './support/stack';

interface Probe {
  code: number;
  body: { status: string; checks: Array<{ name: string; ok: boolean; detail: string }> };
}
const get = async (url: string): Promise<Probe | undefined> => {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined);
  return res ? { code: res.status, body: (await res.json()) as Probe['body'] } : undefined;
};
async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    last = await fn().catch((err: unknown) => err);
    if (last !== undefined && !(last instanceof Error)) return last as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
const exited = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
/** The value of a sample `name{labels}` (labels exactly as printed), or undefined. */
const sample = (text: string, series: string): number | undefined => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
};

test('worker ops endpoint: healthz, readyz (poller paused, ledger down), business and SDK metrics, SIGTERM', async () => {
  const lamassu = await createLamassuDatabase('ops_lamassu');
  try {
    await withCashOutWorld({ taskQueuePrefix: 'worker-ops', clients: 2, worker: false, overrides: { lamassu: { mode: 'direct', databaseUrl: lamassu.url, fiatCode: 'GTQ' } } }, async ({ world: w, client }) => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const pollerWorkflowId = `poller-ops-${randomBytes(4).toString('hex')}`;
      const dir = mkdtempSync(path.join(tmpdir(), 'worker-ops-'));
      const configFile = path.join(dir, 'config.json');
      writeFileSync(configFile, JSON.stringify({ ...w.config, httpAddress: `127.0.0.1:${port}`, shutdownGraceSeconds: 5 }), { mode: 0o600 });
      const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support', 'worker-process.ts')], {
        env: { ...process.env, SATMACHINE_WORKER_CONFIG: configFile, SATMACHINE_POLLER_WORKFLOW_ID: pollerWorkflowId },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      try {
        const health = await until('/healthz 200', async () => ((await get(`${base}/healthz`))?.code === 200 ? get(`${base}/healthz`) : undefined));
        assert.deepEqual(health!.body.checks.map((c) => [c.name, c.ok]), [['worker', true], ['temporal', true]]);
        const notYet = await get(`${base}/readyz`);
        assert.equal(notYet?.code, 503, 'no poller yet: not ready');
        assert.match(notYet!.body.checks.find((c) => c.name === 'poller')!.detail, /not found|poller/i);

        await ensurePollerStarted(client, w.config, { workflowId: pollerWorkflowId });
        const ready = await until('/readyz 200', async () => {
          const r = await get(`${base}/readyz`);
          return r?.code === 200 ? r : undefined;
        });
        assert.equal(ready.body.status, 'ready');
        assert.deepEqual(ready.body.checks.map((c) => [c.name, c.ok]), [['ledger', true], ['poller', true]]);

        const row = cashOutRow();
        await startCashOut(client, w.config, row);
        const result = (await client.workflow.getHandle(cashOutWorkflowId(row.id)).result()) as CashOutResult;
        assert.equal(result.status, 'completed');
        const tx = (await ledgerTransaction(w.db.pool, row.id))!;
        const paid = (kind: string) => tx.payments.filter((p) => p.kind === kind && p.status === 'completed').reduce((s, p) => s + p.amountSats, 0);
        const text = await until('SDK metrics of the cash-out', async () => {
          const t = await (await fetch(`${base}/metrics`)).text();
          return /^temporal_workflow_completed\{/m.test(t) ? t : undefined;
        });
        assert.equal(sample(text, 'satmachine_cashouts{status="completed"}'), 1);
        assert.equal(sample(text, 'satmachine_sats_paid{kind="client"}'), paid('client'));
        assert.equal(sample(text, 'satmachine_sats_paid{kind="commission"}'), paid('commission'));
        assert.ok(paid('client') > 0 && paid('commission') > 0);
        assert.equal(sample(text, 'satmachine_payouts_failed'), 0);
        assert.equal(sample(text, 'satmachine_cashouts_needing_attention'), 0);
        assert.equal(sample(text, 'satmachine_poller_paused'), 0);
        assert.ok(sample(text, 'satmachine_poll_lag_seconds')! >= 0);
        assert.ok(sample(text, 'satmachine_poller_last_success_timestamp_seconds')! > Date.now() / 1000 - 600);
        assert.match(text, /^# TYPE satmachine_open_alerts gauge$/m);
        assert.ok(!text.includes(w.source.adminKey) && !text.includes(w.db.url), 'no secret in the metrics');

        await pausePoller(client, 'counting the cash box', { workflowId: pollerWorkflowId, by: 'ops-test' });
        const paused = await until('/readyz 503 (paused)', async () => {
          const r = await get(`${base}/readyz`);
          return r?.code === 503 ? r : undefined;
        });
        assert.equal(paused.body.status, 'not-ready');
        assert.match(paused.body.checks.find((c) => c.name === 'poller')!.detail, /poller paused: counting the cash box \(by ops-test\)/);
        assert.equal(sample(await (await fetch(`${base}/metrics`)).text(), 'satmachine_poller_paused'), 1);
        await resumePoller(client, { workflowId: pollerWorkflowId });
        await until('/readyz 200 after resume', async () => ((await get(`${base}/readyz`))?.code === 200 ? true : undefined));

        // The ledger refuses connections (as when its PostgreSQL is down): not ready, naming the ledger.
        const dbName = new URL(w.db.url).pathname.slice(1);
        const admin = new pg.Client({ connectionString: getStack().postgres.adminUrl });
        await admin.connect();
        try {
          await admin.query(`ALTER DATABASE "${dbName}" WITH ALLOW_CONNECTIONS false`);
          await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, [dbName]);
          const down = await until('/readyz 503 (ledger down)', async () => {
            const r = await get(`${base}/readyz`);
            return r?.code === 503 && !r.body.checks.find((c) => c.name === 'ledger')!.ok ? r : undefined;
          });
          assert.match(down.body.checks.find((c) => c.name === 'ledger')!.detail, /not currently accepting connections|does not allow connections|terminat/i);
          assert.equal((await get(`${base}/healthz`))?.code, 200, 'the process itself stays healthy');
        } finally {
          await admin.query(`ALTER DATABASE "${dbName}" WITH ALLOW_CONNECTIONS true`);
          await admin.end();
        }
        await until('/readyz 200 (ledger back)', async () => ((await get(`${base}/readyz`))?.code === 200 ? true : undefined));

        child.kill('SIGTERM');
        assert.equal(await exited(child), 0, 'SIGTERM: drained and exited 0');
      } finally {
        child.kill('SIGKILL');
        await client.workflow.getHandle(pollerWorkflowId).terminate('test over').catch(() => undefined);
      }
    });
  } finally {
    await lamassu.drop();
  }
});
