/**
 * A client's LNbits key rotated (runbook scenario 6, "wallet inaccessible"): the payout to it fails and is
 * compensated, the client is paused automatically (so later cash-outs leave it out instead of each failing),
 * an alert names it; `satmachine clients set-key` + `set-status active` bring it back.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { addDeposit, confirmDeposit, createClient } from '../adapters/ledger';
import { startCashOut } from '../client/cashout';
import { fiatMinor } from '../domain/money';
import { cashOutWorkflowId } from '../domain/constants';
import { cancelFailedPayoutsUpdate, type CashOutResult } from '../workflows/cashout';
import { cashOutRow, ENCRYPTION_KEY, ledgerTransaction, walletSats, withCashOutWorld } from './support/cashout-fixture';
import { cliEnvFor, runCli } from './support/cli';
import { getStack } from './support/stack';

const lnbitsCall = async (method: string, path: string, auth: { token?: string }, body?: unknown) => {
  const res = await fetch(`${getStack().lnbits.url}${path}`, {
    method,
    headers: { 'Content-Type': 'application/json', ...(auth.token ? { Authorization: `Bearer ${auth.token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  assert.ok(res.ok, `${method} ${path}: HTTP ${res.status} ${await res.clone().text()}`);
  return (await res.json()) as Record<string, string>;
};

/**
 * An LNbits user with a password (the superuser creates it), so that it can log in and rotate its own
 * wallet's keys the way a client would in the LNbits UI (PUT /api/v1/wallet/reset/{id}).
 */
async function lnbitsUserWallet(): Promise<{ id: string; adminKey: string; invoiceKey: string; userId: string; rotate: () => Promise<{ adminKey: string; invoiceKey: string }> }> {
  const username = `rot${randomBytes(6).toString('hex')}`;
  const password = randomBytes(12).toString('hex');
  await lnbitsCall('POST', '/users/api/v1/user', { token: getStack().lnbits.superuserToken }, { username, password, password_repeat: password });
  const { access_token: token } = await lnbitsCall('POST', '/api/v1/auth', {}, { username, password });
  const w = await lnbitsCall('POST', '/api/v1/wallet', { token }, { name: 'rotating client' });
  return {
    id: w.id!, adminKey: w.adminkey!, invoiceKey: w.inkey!, userId: w.user!,
    rotate: async () => {
      const r = await lnbitsCall('PUT', `/api/v1/wallet/reset/${w.id}`, { token });
      return { adminKey: r.adminkey!, invoiceKey: r.inkey! };
    },
  };
}

test('a rotated client key: payout compensated, client paused and alerted, then set-key brings it back', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'key-rotation', clients: 3 }, async ({ world: w, client }) => {
    // The victim: a client whose wallet belongs to an LNbits user that can rotate its keys.
    const wallet = await lnbitsUserWallet();
    const c = await createClient(w.db.pool, { name: 'rotating client', walletId: wallet.id, invoiceKey: wallet.invoiceKey, currency: 'GTQ' }, ENCRYPTION_KEY);
    await confirmDeposit(w.db.pool, (await addDeposit(w.db.pool, { clientId: c.id, amount: fiatMinor(100_000) })).id);
    const victim = { id: c.id, wallet };
    const rotated = await wallet.rotate();
    const [inkey, adminkey] = [rotated.invoiceKey, rotated.adminKey];

    // 1. The cash-out pays the others; the victim's payout fails and waits for the operator.
    const first = cashOutRow();
    await startCashOut(client, w.config, first);
    const handle = client.workflow.getHandle(cashOutWorkflowId(first.id));
    for (let i = 0; i < 100; i++) {
      const s = (await handle.query('status')) as { status: string };
      if (s.status === 'needs_attention') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const status = async () => (await w.db.pool.query(`SELECT status FROM satoshimachine.clients WHERE id = $1`, [victim.id])).rows[0].status as string;
    assert.equal(await status(), 'paused', 'paused automatically');
    const alerts = await w.db.pool.query(`SELECT kind, severity, message FROM satoshimachine.alerts WHERE dedup_key = $1`, [`client-wallet-rejected:${victim.id}`]);
    assert.equal(alerts.rows.length, 1);
    assert.equal(alerts.rows[0].severity, 'high');
    assert.ok(!alerts.rows[0].message.includes(inkey) && !alerts.rows[0].message.includes(victim.wallet.invoiceKey), 'no key in the alert');
    const events = await w.db.pool.query(`SELECT actor, details->>'to' AS "to" FROM satoshimachine.operator_events WHERE action = 'client-status'`);
    assert.deepEqual(events.rows, [{ actor: 'satmachine', to: 'paused' }]);
    await handle.executeUpdate(cancelFailedPayoutsUpdate, { args: [{ by: 'test', reason: 'key rotated' }] });
    assert.equal(((await handle.result()) as CashOutResult).status, 'completed');

    // 2. While paused, the next cash-out leaves the client out and completes.
    const second = cashOutRow();
    await startCashOut(client, w.config, second);
    assert.equal(((await client.workflow.getHandle(cashOutWorkflowId(second.id)).result()) as CashOutResult).status, 'completed');
    const tx2 = (await ledgerTransaction(w.db.pool, second.id))!;
    assert.ok(!tx2.payments.some((p) => p.clientId === victim.id), 'the paused client takes no part');

    // 3. The operator stores the new key (verified with LNbits) and reactivates the client.
    const env = cliEnvFor(w.config, { NEW_KEY: inkey });
    const wrong = await runCli(['clients', 'set-key', victim.id, '--invoice-key-env', 'OLD_KEY'], { ...env, OLD_KEY: victim.wallet.invoiceKey });
    assert.equal(wrong.code, 2, 'the old key is refused by the LNbits check');
    const setKey = await runCli(['clients', 'set-key', victim.id, '--invoice-key-env', 'NEW_KEY'], env);
    assert.equal(setKey.code, 0, setKey.stderr);
    assert.ok(!setKey.stdout.includes(inkey), 'the key is never printed');
    assert.equal((await runCli(['clients', 'set-status', victim.id, 'active', '--reason', 'key fixed'], env)).code, 0);

    const third = cashOutRow();
    await startCashOut(client, w.config, third);
    assert.equal(((await client.workflow.getHandle(cashOutWorkflowId(third.id)).result()) as CashOutResult).status, 'completed');
    const tx3 = (await ledgerTransaction(w.db.pool, third.id))!;
    const paid = tx3.payments.find((p) => p.clientId === victim.id)!;
    assert.equal(paid.status, 'completed');
    assert.equal(await walletSats({ ...victim.wallet, adminKey: adminkey, invoiceKey: inkey }), paid.amountSats, 'only the third cash-out reached the wallet');
  });
});
