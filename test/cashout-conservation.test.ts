/**
 * Each completed cash-out is checked for conservation at once (issue 13), inside completeCashOut: a clean
 * cash-out raises nothing; a ledger that does not add up, or a payout LNbits does not know, raises critical
 * alerts at once instead of at the next reconciliation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { checkCashOutConservation } from '../activities/cashout-conservation';
import { listPayments } from '../adapters/ledger/reservations';
import { getTransaction } from '../adapters/ledger/transactions';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { createLogger } from '../log/logger';
import { cashOutRow, ledgerTransaction, untilState, withCashOutWorld } from './support/cashout-fixture';

test('completeCashOut checks conservation and LNbits at once: clean → no alert; a mismatch → critical alerts', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'conservation', clients: 3 }, async ({ world: w, client }) => {
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    await untilState(client, cashOutWorkflowId(row.id), (s) => s.status === 'completed', 'completed', 120_000);
    const alerts = async () => (await w.db.pool.query(`SELECT kind, severity FROM satoshimachine.alerts WHERE kind IN ('conservation', 'payout-not-in-lnbits') ORDER BY kind`)).rows;
    assert.deepEqual(await alerts(), [], 'the real completion found nothing');

    // The same check over a ledger view that does not add up: one sat more than was sent, and a payout whose
    // hash LNbits never saw.
    const txId = (await ledgerTransaction(w.db.pool, row.id))!.id;
    const tx = await getTransaction(w.db.pool, txId);
    const rows = await listPayments(w.db.pool, txId);
    const ghost = { ...rows.find((p) => p.kind === 'client')!, paymentHash: randomBytes(32).toString('hex') };
    const deps = { config: w.config, pool: w.db.pool, log: createLogger({ level: 'silent', name: 'conservation' }) };
    const lnbits = createLnbitsClient({ url: w.config.lnbits.url });
    const r = await checkCashOutConservation(deps, lnbits, w.config.lnbits.source.adminKey!, { ...tx, cryptoAtoms: String(Number(tx.cryptoAtoms) + 1) }, rows.map((p) => (p.id === ghost.id ? ghost : p)));
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => /≠ crypto_atoms/.test(p)));
    assert.ok(r.problems.some((p) => p.includes(ghost.id) && /unknown to LNbits/.test(p)));
    assert.deepEqual(await alerts(), [{ kind: 'conservation', severity: 'critical' }, { kind: 'payout-not-in-lnbits', severity: 'critical' }]);
  });
});
