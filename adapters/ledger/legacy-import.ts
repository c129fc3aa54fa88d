/**
 * Writes an import plan of the old satmachineadmin extension (domain/legacy-plan.ts) into the ledger in ONE
 * transaction: per new client its row (key encrypted, or none and paused), its deposits, the balance log of
 * its confirmed deposits at their original confirmation times, one adjustment that carries the old system's
 * payments over (opening balance = old balance), and an audit event; the cash-outs the old system handled; the
 * cut-over. Idempotent by the old ids (legacy_id_map): a client imported before is never touched again.
 */
import type pg from 'pg';
import { LedgerStateError } from '../../domain/errors';
import type { LegacyPlan, PlannedClient } from '../../domain/legacy-plan';
import { showDecimal } from '../../domain/legacy-amounts';
import { encryptSecret } from '../crypto/secret-box';
import { keyAad } from './clients';
import { type Queryable, isoCol, withTransaction } from './db';
import { recordOperatorEvent } from './operator-control';

export const LEGACY_SOURCE = 'satmachineadmin';

export interface ImportState {
  /** legacy client id → ledger client id. */
  clients: Map<string, string>;
  deposits: Set<string>;
  cashOuts: Set<string>;
  /** wallet id → ledger client id, for every ledger client (imported or not). */
  wallets: Map<string, string>;
}

export async function readImportState(db: Queryable): Promise<ImportState> {
  // One after the other: `db` may be a single connection inside the import's transaction.
  const map = await db.query(`SELECT kind, legacy_id, ledger_id::text AS ledger_id FROM satoshimachine.legacy_id_map WHERE source = $1`, [LEGACY_SOURCE]);
  const wallets = await db.query(`SELECT id::text AS id, wallet_id FROM satoshimachine.clients`);
  const cashOuts = await db.query(`SELECT lamassu_id::text AS lamassu_id FROM satoshimachine.legacy_cashouts`);
  return {
    clients: new Map(map.rows.filter((r) => r.kind === 'client').map((r) => [String(r.legacy_id), String(r.ledger_id)])),
    deposits: new Set(map.rows.filter((r) => r.kind === 'deposit').map((r) => String(r.legacy_id))),
    cashOuts: new Set(cashOuts.rows.map((r) => String(r.lamassu_id))),
    wallets: new Map(wallets.rows.map((r) => [String(r.wallet_id), String(r.id)])),
  };
}

/** Clients of this plan that a ledger client not imported from it already holds the wallet of (import refused). */
export function walletConflicts(plan: LegacyPlan, state: ImportState): Array<{ legacyId: string; walletId: string; clientId: string }> {
  return plan.clients
    .filter((c) => !state.clients.has(c.legacyId) && state.wallets.has(c.walletId))
    .map((c) => ({ legacyId: c.legacyId, walletId: c.walletId, clientId: state.wallets.get(c.walletId)! }));
}

export interface ApplyOptions {
  actor: string;
  encryptionKey: string;
  currency: string;
  /** legacy client id → its verified invoice key; absent: imported paused, without a key. */
  keys: Map<string, string>;
}

export interface ImportedClient {
  legacyId: string;
  clientId: string;
  status: 'active' | 'paused';
  keyLinked: boolean;
  deposits: number;
  adjustmentId: string | null;
}

export interface ApplyResult {
  created: ImportedClient[];
  /** Legacy ids imported by an earlier run: left as they are. */
  alreadyImported: string[];
  cashOutsRecorded: number;
  cutover: { before: string | null; after: string | null; changed: boolean };
  changed: boolean;
}

/** Log a balance change at an explicit time (the old confirmation time), under the client's fresh row. */
async function logBalance(c: pg.PoolClient, clientId: string, before: bigint, delta: bigint, ref: { depositId?: string; adjustmentId?: string }, at: string | null): Promise<bigint> {
  const after = before + delta;
  const upd = await c.query(
    `UPDATE satoshimachine.clients SET remaining_balance_fiat_minor = remaining_balance_fiat_minor + $2 WHERE id = $1 AND remaining_balance_fiat_minor = $3`,
    [clientId, delta.toString(), before.toString()],
  );
  if (upd.rowCount !== 1) throw new LedgerStateError(`client ${clientId}: balance changed during the import`, 'remaining_balance_fiat_minor');
  await c.query(
    `INSERT INTO satoshimachine.balance_log (client_id, before_fiat_minor, after_fiat_minor, delta_fiat_minor, reason, deposit_id, adjustment_id, at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8::timestamptz, clock_timestamp()))`,
    [clientId, before.toString(), after.toString(), delta.toString(), ref.depositId ? 'deposit_confirmed' : 'adjustment', ref.depositId ?? null, ref.adjustmentId ?? null, at],
  );
  return after;
}

async function importClient(c: pg.PoolClient, p: PlannedClient, opts: ApplyOptions): Promise<ImportedClient> {
  const key = opts.keys.get(p.legacyId);
  const status = key && p.wantsActive ? 'active' : 'paused';
  const { rows } = await c.query(
    `INSERT INTO satoshimachine.clients (name, wallet_id, invoice_key_enc, mode, status, currency) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id::text AS id`,
    [p.name, p.walletId, key ? encryptSecret(key, opts.encryptionKey, keyAad(p.walletId)) : null, p.mode, status, opts.currency],
  );
  const clientId = String(rows[0]!.id);
  await c.query(`INSERT INTO satoshimachine.legacy_id_map (source, kind, legacy_id, ledger_id) VALUES ($1, 'client', $2, $3)`, [LEGACY_SOURCE, p.legacyId, clientId]);
  let balance = 0n;
  let lastConfirmedAt: string | null = null;
  for (const d of p.deposits) {
    const dep = await c.query(
      `INSERT INTO satoshimachine.deposits (client_id, amount_fiat_minor, currency, status, note, created_at, confirmed_at, cancelled_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id::text AS id`,
      [clientId, d.amountMinor.toString(), opts.currency, d.status, `satmachineadmin deposit ${d.legacyId}${d.note ? `: ${d.note}` : ''}`, d.createdAt, d.confirmedAt, d.status === 'cancelled' ? d.createdAt : null],
    );
    const depositId = String(dep.rows[0]!.id);
    await c.query(`INSERT INTO satoshimachine.legacy_id_map (source, kind, legacy_id, ledger_id) VALUES ($1, 'deposit', $2, $3)`, [LEGACY_SOURCE, d.legacyId, depositId]);
    // The deposit's confirmed_at and its balance_log time agree (as confirmDeposit keeps them): "balance as of t"
    // then counts the money from when the old system confirmed it.
    if (d.status === 'confirmed') {
      balance = await logBalance(c, clientId, balance, d.amountMinor, { depositId }, d.confirmedAt);
      lastConfirmedAt = d.confirmedAt;
    }
  }
  let adjustmentId: string | null = null;
  if (p.adjustmentMinor !== 0n) {
    const note = `old balance ${showDecimal(p.oldBalance)} = confirmed deposits − ${p.payments} confirmed payment(s) of ${showDecimal(p.paidMinor)} (${p.paidSats} sats), in minor units`;
    const adj = await c.query(
      `INSERT INTO satoshimachine.adjustments (client_id, amount_fiat_minor, reason, note, actor) VALUES ($1, $2, $3, $4, $5) RETURNING id::text AS id`,
      [clientId, p.adjustmentMinor.toString(), `opening balance: payments made by satmachineadmin (client ${p.legacyId})`, note, opts.actor],
    );
    adjustmentId = String(adj.rows[0]!.id);
    balance = await logBalance(c, clientId, balance, p.adjustmentMinor, { adjustmentId }, lastConfirmedAt);
  }
  if (balance !== p.openingMinor) throw new LedgerStateError(`client ${p.legacyId}: imported balance ${balance} ≠ planned opening ${p.openingMinor}`, 'remaining_balance_fiat_minor');
  await recordOperatorEvent(c, opts.actor, 'client-imported', {
    source: LEGACY_SOURCE, legacyId: p.legacyId, clientId, userId: p.userId, walletId: p.walletId, name: p.name, status, keyLinked: Boolean(key),
    deposits: p.deposits.length, confirmedFiatMinor: p.confirmedMinor.toString(), pendingFiatMinor: p.pendingMinor.toString(),
    paidFiatMinor: showDecimal(p.paidMinor), paidSats: p.paidSats.toString(), oldBalanceFiatMinor: showDecimal(p.oldBalance),
    openingFiatMinor: p.openingMinor.toString(), adjustmentId,
  });
  return { legacyId: p.legacyId, clientId, status, keyLinked: Boolean(key), deposits: p.deposits.length, adjustmentId };
}

export async function applyLegacyImport(pool: pg.Pool, plan: LegacyPlan, opts: ApplyOptions): Promise<ApplyResult> {
  return withTransaction(pool, async (c) => {
    // One import at a time: the second waits, then finds everything imported.
    await c.query(`SELECT pg_advisory_xact_lock(hashtext('satmachine-legacy-import'))`);
    const state = await readImportState(c);
    const conflicts = walletConflicts(plan, state);
    if (conflicts.length) {
      throw new LedgerStateError(conflicts.map((x) => `wallet ${x.walletId} of old client ${x.legacyId} already belongs to ledger client ${x.clientId}`).join('; '), 'wallet_id');
    }
    const created: ImportedClient[] = [];
    const alreadyImported: string[] = [];
    for (const p of plan.clients) {
      if (state.clients.has(p.legacyId)) alreadyImported.push(p.legacyId);
      else created.push(await importClient(c, p, opts));
    }
    let cashOutsRecorded = 0;
    for (const t of plan.cashOuts) {
      const r = await c.query(
        `INSERT INTO satoshimachine.legacy_cashouts (lamassu_id, source, legacy_id, transaction_time, crypto_atoms, base_sats, commission_sats, distributed_sats)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (lamassu_id) DO NOTHING`,
        [t.lamassuId, LEGACY_SOURCE, t.legacyId, t.transactionTime, t.cryptoAtoms?.toString() ?? null, t.baseSats?.toString() ?? null, t.commissionSats?.toString() ?? null, t.distributedSats?.toString() ?? null],
      );
      cashOutsRecorded += r.rowCount ?? 0;
    }
    const before = (await c.query(`SELECT to_json(pay_from) #>> '{}' AS t FROM satoshimachine.cutover`)).rows[0]?.t ?? null;
    let after: string | null = before;
    if (plan.cutover) {
      // Only ever forward: an import never re-opens cash-outs that an earlier cut-over closed.
      const r = await c.query(
        `INSERT INTO satoshimachine.cutover (pay_from, source, set_by) VALUES ($1, $2, $3)
         ON CONFLICT (singleton) DO UPDATE SET pay_from = EXCLUDED.pay_from, source = EXCLUDED.source, set_by = EXCLUDED.set_by, set_at = now()
           WHERE satoshimachine.cutover.pay_from < EXCLUDED.pay_from
         RETURNING pay_from`,
        [plan.cutover, LEGACY_SOURCE, opts.actor],
      );
      if (r.rows[0]) after = isoCol(r.rows[0].pay_from);
    }
    const cutoverChanged = after !== null && (before === null || Date.parse(after) !== Date.parse(before));
    const changed = created.length > 0 || cashOutsRecorded > 0 || cutoverChanged;
    if (changed) {
      await recordOperatorEvent(c, opts.actor, 'legacy-import', {
        source: LEGACY_SOURCE, location: plan.location, clientsCreated: created.length, alreadyImported: alreadyImported.length,
        cashOutsRecorded, cutoverBefore: before, cutoverAfter: after,
      });
    }
    return { created, alreadyImported, cashOutsRecorded, cutover: { before, after, changed: cutoverChanged }, changed };
  });
}

/**
 * Links the key of an imported client that had none (its wallet resolved on a later run, e.g. after an LNbits
 * admin restored it) and makes it active when the old system had it active; audited. Only ever from "no key":
 * a key set meanwhile by `clients set-key` is never replaced here.
 */
export async function linkImportedClientKey(pool: pg.Pool, clientId: string, walletId: string, invoiceKey: string, activate: boolean, opts: { actor: string; encryptionKey: string }): Promise<boolean> {
  return withTransaction(pool, async (c) => {
    const { rowCount } = await c.query(
      `UPDATE satoshimachine.clients SET invoice_key_enc = $3, status = CASE WHEN $4 AND status = 'paused' THEN 'active' ELSE status END
        WHERE id = $1 AND wallet_id = $2 AND invoice_key_enc IS NULL`,
      [clientId, walletId, encryptSecret(invoiceKey, opts.encryptionKey, keyAad(walletId)), activate],
    );
    if (rowCount === 1) await recordOperatorEvent(c, opts.actor, 'client-key-linked', { source: LEGACY_SOURCE, clientId, walletId, activated: activate });
    return rowCount === 1;
  });
}

/** Ledger clients imported from the old system that still have no invoice key (listed with the command to link them). */
export async function unlinkedImportedClients(db: Queryable): Promise<Array<{ clientId: string; legacyId: string; name: string; walletId: string }>> {
  const { rows } = await db.query(
    `SELECT c.id::text AS id, m.legacy_id, c.name, c.wallet_id FROM satoshimachine.clients c
       JOIN satoshimachine.legacy_id_map m ON m.kind = 'client' AND m.ledger_id = c.id AND m.source = $1
      WHERE c.invoice_key_enc IS NULL ORDER BY c.name, c.id`,
    [LEGACY_SOURCE],
  );
  return rows.map((r) => ({ clientId: String(r.id), legacyId: String(r.legacy_id), name: String(r.name), walletId: String(r.wallet_id) }));
}

/** Ledger balances of imported clients (legacy id → balance) for the side-by-side parity table. */
export async function importedBalances(db: Queryable): Promise<Map<string, { clientId: string; balance: bigint; status: string }>> {
  const { rows } = await db.query(
    `SELECT m.legacy_id, c.id::text AS id, c.remaining_balance_fiat_minor::text AS balance, c.status FROM satoshimachine.legacy_id_map m
       JOIN satoshimachine.clients c ON c.id = m.ledger_id WHERE m.kind = 'client' AND m.source = $1`,
    [LEGACY_SOURCE],
  );
  return new Map(rows.map((r) => [String(r.legacy_id), { clientId: String(r.id), balance: BigInt(String(r.balance)), status: String(r.status) }]));
}
