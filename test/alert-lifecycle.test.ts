/**
 * The alert life cycle (issue 13) on the real ledger: deduplication by cause, operator ack/resolve through the
 * CLI (audited), automatic resolve by the checks (reconciliation, stuck-payout sweep), re-notification of an
 * unacknowledged critical alert through the webhook, and `status` listing unacknowledged alerts first.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type pg from 'pg';
import { raiseAlert, renotifyCriticalAlerts, resolveAlerts } from '../adapters/alerts';
import { createReconcileActivities } from '../activities/reconcile';
import { loadConfig } from '../config';
import type { Config } from '../config/schema';
import { createLogger } from '../log/logger';
import { cliEnvFor, runCli } from './support/cli';
import { createLedgerDatabase } from './support/ledger-db';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'alert-lifecycle' });
let db: { url: string; pool: pg.Pool; drop: () => Promise<void> };
let config: Config;
let deps: { config: Config; pool: pg.Pool; log: typeof log };
let env: Record<string, string>;

before(async () => {
  db = await createLedgerDatabase('alert_life');
  config = loadConfig({ env: {}, file: null, overrides: { databaseUrl: db.url, temporal: { address: '127.0.0.1:1' }, log: { level: 'silent' } } });
  deps = { config, pool: db.pool, log };
  env = cliEnvFor(config, { USER: 'ana' });
});
after(async () => db?.drop());

const open = async (kind: string) =>
  (await db.pool.query(`SELECT id::text, severity, resolved_at FROM satoshimachine.alerts WHERE kind = $1 AND resolved_at IS NULL ORDER BY id`, [kind])).rows;

describe('deduplication by cause', () => {
  test('a revoked key after a timeout on the same subject is raised; the same cause again is not; after resolve it is', async () => {
    const base = { kind: 'poller-not-ready', dedupKey: 'poller-not-ready:commission-wallet' };
    assert.equal((await raiseAlert(deps, { ...base, severity: 'high', cause: 'check-failed', message: 'commission wallet: timeout' })).raised, true);
    const revoked = await raiseAlert(deps, { ...base, severity: 'critical', cause: 'key-rejected', message: 'commission wallet: key rejected' });
    assert.equal(revoked.raised, true, 'the critical is NOT swallowed by the earlier timeout alert');
    assert.equal((await raiseAlert(deps, { ...base, severity: 'critical', cause: 'key-rejected', message: 'again' })).raised, false, 'same cause: one alert');
    assert.deepEqual((await open('poller-not-ready')).map((a) => a.severity), ['high', 'critical']);
    await resolveAlerts(deps, { dedupKeyLike: 'poller-not-ready:%' }, 'satmachine', 'ready again');
    assert.equal((await open('poller-not-ready')).length, 0);
    assert.equal((await raiseAlert(deps, { ...base, severity: 'critical', cause: 'key-rejected', message: 'rejected once more' })).raised, true, 'a recurrence after resolve alerts again');
  });
});

describe('operator: alerts list | ack | resolve', () => {
  test('list shows unacknowledged first; ack and resolve are recorded with who and why; status agrees', async () => {
    const a = (await raiseAlert(deps, { severity: 'critical', kind: 'payout-stuck', dedupKey: 'payout-stuck:x', message: 'payout x stuck' })).id!;
    const b = (await raiseAlert(deps, { severity: 'medium', kind: 'lamassu-unreachable', dedupKey: 'health:lamassu-unreachable:ssh', message: 'ssh down' })).id!;
    const ack = await runCli(['alerts', 'ack', a, '--reason', 'looking at it', '--actor', 'ana'], env);
    assert.equal(ack.code, 0, ack.stderr);
    assert.match(ack.stdout, new RegExp(`acknowledged: ${a} \\(payout-stuck\\)`));
    const list = await runCli(['alerts', 'list', '--json'], env);
    assert.equal(list.code, 0, list.stderr);
    const ids = (list.json() as Array<{ id: string; acknowledgedBy: string | null }>).map((x) => x.id);
    assert.ok(ids.indexOf(b) < ids.indexOf(a), 'the unacknowledged medium alert comes before the acknowledged critical one');

    assert.equal((await runCli(['alerts', 'resolve', b], env)).code, 2, '--reason is required');
    const res = await runCli(['alerts', 'resolve', b, '--reason', 'ssh fixed', '--actor', 'ana'], env);
    assert.equal(res.code, 0, res.stderr);
    assert.equal((await runCli(['alerts', 'ack', '999999'], env)).code, 4);
    const again = await runCli(['alerts', 'resolve', b, '--reason', 'twice'], env);
    assert.match(again.stdout, /already resolved by ana/);

    const events = await db.pool.query(`SELECT actor, action, details FROM satoshimachine.operator_events WHERE action LIKE 'alerts-%' ORDER BY id`);
    assert.deepEqual(events.rows.map((e) => [e.actor, e.action, e.details.alertIds, e.details.reason]), [
      ['ana', 'alerts-acknowledged', [a], 'looking at it'],
      ['ana', 'alerts-resolved', [b], 'ssh fixed'],
    ]);
    const resolved = await runCli(['alerts', 'list', '--state', 'resolved', '--json'], env);
    assert.ok((resolved.json() as Array<{ id: string }>).some((x) => x.id === b));
  });
});

describe('automatic resolve', () => {
  test('a reconciliation that finds no balance mismatch resolves the open balance-mismatch alert', async () => {
    await raiseAlert(deps, { severity: 'high', kind: 'balance-mismatch', dedupKey: 'reconcile:balance-mismatch:2026-12-01', message: 'stored ≠ derived' });
    const acts = createReconcileActivities(deps);
    const { reportId, startedAt } = await acts.beginReconciliation({ runKey: `test-${Date.now()}` });
    const ledger = await acts.reconcileLedgerPart({ reportId });
    assert.deepEqual(ledger.counts, {});
    await acts.finishReconciliation({ reportId, startedAt, parts: [ledger, { part: 'lnbits', findings: [], counts: {}, summary: { skipped: true } }] });
    const rows = (await db.pool.query(`SELECT resolved_by, resolve_reason FROM satoshimachine.alerts WHERE kind = 'balance-mismatch'`)).rows;
    assert.equal(rows.length, 1);
    assert.equal(rows[0].resolved_by, 'satmachine');
    assert.match(rows[0].resolve_reason, /no balance-mismatch finding/);
  });
});

describe('re-notification', () => {
  test('an unacknowledged critical alert is sent again after renotifyCriticalMinutes; an acknowledged one is not', async () => {
    const received: Array<{ alertId: string; message: string }> = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as { alertId: string; message: string });
        res.writeHead(200).end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const port = (server.address() as { port: number }).port;
      const cfg = { ...config, alerts: { ...config.alerts, webhookUrl: `http://127.0.0.1:${port}/hook`, renotifyCriticalMinutes: 30 } };
      const d = { ...deps, config: cfg };
      const loud = (await raiseAlert(d, { severity: 'critical', kind: 'conservation', dedupKey: 'conservation:t1', message: 'money not conserved' })).id!;
      const seen = (await raiseAlert(d, { severity: 'critical', kind: 'conservation', dedupKey: 'conservation:t2', message: 'seen already' })).id!;
      await runCli(['alerts', 'ack', seen, '--reason', 'on it', '--actor', 'ana'], env);
      assert.equal(received.length, 2, 'both delivered once when raised');
      assert.equal(await renotifyCriticalAlerts(d), 0, 'not due yet');
      // 31 minutes later (the alert rows are ours to age in a test).
      await db.pool.query(`UPDATE satoshimachine.alerts SET last_notified_at = now() - interval '31 minutes' WHERE id = ANY($1::bigint[])`, [[loud, seen]]);
      assert.equal(await renotifyCriticalAlerts(d), 1);
      assert.equal(received.length, 3);
      assert.equal(received[2]!.alertId, loud);
      assert.match(received[2]!.message, /STILL OPEN \(notice 2/);
      assert.equal(await renotifyCriticalAlerts(d), 0, 'and not again before the next interval');
    } finally {
      server.close();
    }
  });

  test('status lists open alerts with the unacknowledged ones first', async () => {
    const st = await runCli(['status'], env);
    assert.match(st.stdout, /open alerts/);
    assert.match(st.stdout, /\d+ open, \d+ unacknowledged/);
    const section = st.stdout.slice(st.stdout.indexOf('open alerts'));
    const firstAck = section.search(/by ana/);
    const lastNo = section.lastIndexOf(' NO ');
    assert.ok(firstAck === -1 || lastNo === -1 || lastNo < firstAck, 'unacknowledged rows come before acknowledged ones');
  });
});
