import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { raiseAlert, redeliverAlerts, severityFor } from '../adapters/alerts';
import { loadConfig, type ConfigInput } from '../config';
import { createLogger } from '../log/logger';
import { createLedgerDatabase } from './support/ledger-db';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'test' });
let db: Awaited<ReturnType<typeof createLedgerDatabase>>;
before(async () => {
  db = await createLedgerDatabase('alerts_test');
});
after(async () => {
  await db?.drop();
});

const config = (alerts: ConfigInput['alerts'] = {}) => loadConfig({ env: {}, file: null, overrides: { alerts: { webhookBackoffMs: 20, ...alerts } } });
const deps = (alerts: ConfigInput['alerts'] = {}) => ({ pool: db.pool, log, config: config(alerts) });
let seq = 0;
const key = (k: string) => `${k}:${++seq}`;

/** A local webhook receiver answering each request with the next status of `statuses` (then 200). */
async function receiver(statuses: number[] = []) {
  const bodies: Array<Record<string, unknown>> = [];
  let calls = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls++;
      const status = statuses.shift() ?? 200;
      if (status === 200) bodies.push(JSON.parse(body) as Record<string, unknown>);
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook/secret-token`,
    bodies,
    calls: () => calls,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A minimal SMTP receiver (enough of RFC 5321 for nodemailer): records each message's DATA. */
async function smtpReceiver() {
  const messages: string[] = [];
  const server = net.createServer((sock) => {
    sock.write('220 test ESMTP\r\n');
    let buf = '';
    let data: string | null = null;
    sock.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (data !== null) {
          if (line === '.') {
            messages.push(data);
            data = null;
            sock.write('250 queued\r\n');
          } else data += `${line}\n`;
          continue;
        }
        const cmd = line.slice(0, 4).toUpperCase();
        if (cmd === 'DATA') {
          data = '';
          sock.write('354 go ahead\r\n');
        } else if (cmd === 'QUIT') sock.end('221 bye\r\n');
        else sock.write(cmd === 'EHLO' ? '250 test\r\n' : '250 ok\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `smtp://127.0.0.1:${(server.address() as AddressInfo).port}`, messages, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const rowOf = async (id: string) =>
  (await db.pool.query('SELECT severity, delivered_at IS NOT NULL AS delivered, delivery_error, delivery_attempts FROM satoshimachine.alerts WHERE id = $1', [id])).rows[0];

describe('alerts', () => {
  test('a local webhook receiver gets the Slack/Discord-compatible JSON; delivery is recorded', async () => {
    const hook = await receiver();
    try {
      const dedupKey = key('payout-stuck');
      const r = await raiseAlert(deps({ webhookUrl: hook.url }), { severity: 'critical', kind: 'payout-stuck', dedupKey, message: 'payout p1 stuck', details: { paymentId: 'p1' } });
      assert.equal(r.raised, true);
      assert.equal(hook.bodies.length, 1);
      const b = hook.bodies[0]!;
      assert.equal(b.text, '[CRITICAL] payout-stuck: payout p1 stuck');
      assert.equal(b.content, b.text);
      assert.deepEqual([b.severity, b.kind, b.dedupKey, b.alertId, b.details], ['critical', 'payout-stuck', dedupKey, r.id, { paymentId: 'p1' }]);
      assert.deepEqual(await rowOf(r.id!), { severity: 'critical', delivered: true, delivery_error: null, delivery_attempts: 1 });

      // Same dedup key within the quiet period: no second alert, nothing sent.
      const again = await raiseAlert(deps({ webhookUrl: hook.url }), { severity: 'critical', kind: 'payout-stuck', dedupKey, message: 'again' });
      assert.equal(again.raised, false);
      assert.equal(hook.calls(), 1);
    } finally {
      await hook.close();
    }
  });

  test('a failing webhook is retried with back-off; a dead one never loses the alert and is redelivered later', async () => {
    const flaky = await receiver([500, 503]);
    try {
      const r = await raiseAlert(deps({ webhookUrl: flaky.url }), { severity: 'high', kind: 'balance-mismatch', dedupKey: key('bm'), message: 'x' });
      assert.equal(flaky.calls(), 3);
      assert.deepEqual(await rowOf(r.id!), { severity: 'high', delivered: true, delivery_error: null, delivery_attempts: 1 });
    } finally {
      await flaky.close();
    }

    const down = await receiver();
    const deadUrl = down.url;
    await down.close(); // nothing listens there any more
    const r = await raiseAlert(deps({ webhookUrl: deadUrl, webhookAttempts: 2 }), { severity: 'critical', kind: 'wallet-key-rejected', dedupKey: key('wk'), message: 'key rejected' });
    assert.equal(r.raised, true, 'the alert is raised although its channel failed');
    const row = await rowOf(r.id!);
    assert.equal(row.delivered, false);
    assert.match(row.delivery_error, /^webhook: ECONNREFUSED, ECONNREFUSED$/);
    assert.doesNotMatch(row.delivery_error, /secret-token/, 'the webhook URL (a secret) is not in the error');

    const back = await receiver();
    try {
      const out = await redeliverAlerts(deps({ webhookUrl: back.url }));
      assert.ok(out.delivered >= 1);
      assert.ok(back.bodies.some((b) => b.alertId === r.id));
      assert.deepEqual(await rowOf(r.id!), { severity: 'critical', delivered: true, delivery_error: null, delivery_attempts: 2 });
    } finally {
      await back.close();
    }
  });

  test('e-mail over SMTP; severities below channelMinSeverity stay in the table; per-kind severity override', async () => {
    const smtp = await smtpReceiver();
    const hook = await receiver();
    try {
      const d = deps({ smtpUrl: smtp.url, emailTo: 'ops@example.test', webhookUrl: hook.url, severities: { 'lamassu-unreachable': 'high' } });
      assert.equal(severityFor(d.config, 'lamassu-unreachable'), 'high');
      assert.equal(severityFor(d.config, 'commission-formula'), 'medium');
      const r = await raiseAlert(d, { severity: 'medium', kind: 'lamassu-unreachable', dedupKey: key('lu'), message: 'Lamassu connection failed at ssh-reachable' });
      assert.equal((await rowOf(r.id!)).severity, 'high', 'the configured severity wins');
      assert.equal(smtp.messages.length, 1);
      assert.match(smtp.messages[0]!, /Subject: \[satmachine HIGH\] lamassu-unreachable/);
      assert.match(smtp.messages[0]!, /Lamassu connection failed at ssh-reachable/);
      assert.equal(hook.bodies.length, 1);

      const info = await raiseAlert(d, { severity: 'info', kind: 'deposit-pending-long', dedupKey: key('dp'), message: 'deposit pending' });
      assert.equal(info.raised, true);
      assert.equal(smtp.messages.length, 1);
      assert.equal(hook.bodies.length, 1);
      assert.deepEqual(await rowOf(info.id!), { severity: 'info', delivered: false, delivery_error: null, delivery_attempts: 0 });
    } finally {
      await smtp.close();
      await hook.close();
    }
  });

  test('concurrent raisers of one dedup key record one alert', async () => {
    const dedupKey = key('race');
    const results = await Promise.all(Array.from({ length: 8 }, () => raiseAlert(deps(), { severity: 'high', kind: 'race', dedupKey, message: 'x' })));
    assert.equal(results.filter((r) => r.raised).length, 1);
    const n = await db.pool.query('SELECT count(*)::int AS n FROM satoshimachine.alerts WHERE dedup_key = $1', [dedupKey]);
    assert.equal(n.rows[0].n, 1);
  });
});
