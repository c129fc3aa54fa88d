/**
 * The chaos verifier: what really happened to the money, from LNbits' own records (its API with each wallet's
 * key AND its SQLite database read-only), checked against the Lamassu rows and our ledger.
 *
 * - double payments: a (cash-out, client) or a cash-out's commission paid more than once, a payment hash paid
 *   (incoming or outgoing) more than once, a client wallet receiving a payment no cash-out explains;
 * - sats unaccounted per completed cash-out: Lamassu's crypto_atoms − Σ client payouts LNbits received −
 *   commission LNbits received − unallocated_sats (the ledger's operator share) − payouts the operator cancelled
 *   (never paid: their sats stay in the source wallet);
 * - ledger vs LNbits: a completed payout LNbits does not show paid (to the right wallet, for its amount), a
 *   payout LNbits paid that the ledger released (failed/cancelled), LNbits' API disagreeing with its database;
 * - the source's outflows for our payouts that no wallet received: a loss recorded by
 *   `satmachine tx settle-lost-payment` (lnbits_losses) is reported as "lost in LNbits (recorded)" — only while
 *   LNbits shows exactly its signature (the payout's amount, the recipient's one incoming row failed); a recorded
 *   loss that does not match, or an unrecorded one on a completed cash-out, is a disagreement; on an open
 *   cash-out it is listed as not recorded yet (the operator's command is due);
 * - stuck: ledger cash-outs not completed/rejected, qualifying Lamassu rows never ingested.
 * A payment is attributed to a cash-out by its payment hash (the ledger's, replaced ones included), else by the
 * `extra.lamassuTxId` we put on every invoice, else by the memo of an attributed payment to the same wallet.
 */
import type pg from 'pg';
import { paymentsByApi, paymentsByDatabase, type LnbitsRecord } from './lnbits-records';

export interface VerifyTarget {
  ledger: pg.Pool;
  /** The simulated Lamassu database (cash_out_txs); without it the ledger's crypto_atoms are used. */
  lamassu?: pg.Pool;
  lamassuIds?: string[];
  lnbits: { url: string; dbFile: string };
  source: { id: string; adminKey: string };
  commission: { id: string; invoiceKey: string };
  clients: Array<{ id: string; wallet: { id: string; invoiceKey: string } }>;
  /** The poller's look-back (config lamassu.lookbackHours): older rows are never read. Default 72. */
  lookbackHours?: number;
}

export interface Finding {
  lamassuId?: string;
  detail: string;
}

export interface VerifyReport {
  cashOuts: { lamassuRows: number; qualifying: number; inLedger: number; completed: number; rejected: number; open: number; notIngested: number; cancelledPayoutSats: number };
  lnbits: { recordsApi: number; recordsDb: number; clientSatsReceived: number; commissionSatsReceived: number; sourceSatsSent: number; sourceSatsLostRecorded: number };
  doublePayments: Finding[];
  satsUnaccounted: Array<Finding & { sats: number }>;
  disagreements: Finding[];
  /** Cash-outs (ledger) not completed or rejected: lamassu id, status, error. */
  stuck: Array<{ lamassuId: string; status: string; error: string | null }>;
  notIngested: string[];
  /** Rows Lamassu's conditions let through but no real ATM produces (confirmed in the future) that were paid: reported, not failed. */
  implausiblePaid: Finding[];
  /** The source's payments of our payouts that no wallet received: recorded LNbits losses, or not recorded yet (open cash-outs). */
  lnbitsLosses: Array<Finding & { paymentId: string; paymentHash: string; sats: number; recorded: boolean }>;
  /** The three figures that fail a campaign. */
  failed: boolean;
}

const msatToSats = (m: bigint) => Number(m / 1000n);

/** Lamassu's own conditions for a paid-out cash-out (the reader's WHERE on the row's columns). */
function qualifiesByColumns(r: Record<string, unknown>): boolean {
  return r.status === 'confirmed' && r.dispense === true && r.dispense_confirmed === true && r.error === null && r.error_code !== 'operatorCancel' && ['BTC', 'LN'].includes(String(r.crypto_code)) && r.fiat_code === 'GTQ';
}

/** Confirmed within the poller's look-back and not in the future. */
function inWindow(r: Record<string, unknown>, lookbackHours: number): boolean {
  const at = r.confirmed_at instanceof Date ? r.confirmed_at.getTime() : NaN;
  return at <= Date.now() && at >= Date.now() - lookbackHours * 3600_000;
}

export async function verify(t: VerifyTarget): Promise<VerifyReport> {
  const doublePayments: Finding[] = [];
  const satsUnaccounted: VerifyReport['satsUnaccounted'] = [];
  const disagreements: Finding[] = [];

  // ---- LNbits, both ways
  const ourWallets = new Map<string, string>([[t.source.id, t.source.adminKey], [t.commission.id, t.commission.invoiceKey], ...t.clients.map((c) => [c.wallet.id, c.wallet.invoiceKey] as [string, string])]);
  const apiRecords = (await Promise.all([...ourWallets].map(([, key]) => paymentsByApi(t.lnbits.url, key)))).flat();
  const dbAll = await paymentsByDatabase(t.lnbits.dbFile);
  const dbRecords = dbAll.filter((r) => ourWallets.has(r.walletId));
  const key = (r: LnbitsRecord) => `${r.walletId}|${r.checkingId}|${r.amountMsat}|${r.status}`;
  const apiSuccess = new Set(apiRecords.filter((r) => r.status === 'success').map(key));
  const dbSuccess = new Set(dbRecords.filter((r) => r.status === 'success').map(key));
  for (const k of dbSuccess) if (!apiSuccess.has(k)) disagreements.push({ detail: `LNbits database has a successful payment its API does not list: ${k}` });
  for (const k of apiSuccess) if (!dbSuccess.has(k)) disagreements.push({ detail: `LNbits API lists a successful payment its database does not hold: ${k}` });
  // From here on: the database (all rows, including failed ones the API leaves out).
  const success = dbRecords.filter((r) => r.status === 'success');
  const incoming = success.filter((r) => r.amountMsat > 0n);
  const outgoing = success.filter((r) => r.amountMsat < 0n);

  for (const [list, dir] of [[incoming, 'received'], [outgoing, 'sent']] as const) {
    const byHash = new Map<string, number>();
    for (const r of list) byHash.set(r.paymentHash, (byHash.get(r.paymentHash) ?? 0) + 1);
    for (const [hash, n] of byHash) if (n > 1) doublePayments.push({ detail: `payment hash ${hash} ${dir} ${n} times` });
  }

  // ---- ledger
  const { rows: txs } = await t.ledger.query(
    `SELECT id, lamassu_id::text AS lamassu_id, status, error, crypto_atoms::text AS crypto_atoms, commission_sats::text AS commission_sats,
            unallocated_sats::text AS unallocated_sats FROM satoshimachine.lamassu_transactions`,
  );
  const { rows: pays } = await t.ledger.query(
    `SELECT p.id, p.transaction_id, p.client_id, p.kind, p.amount_sats::text AS amount_sats, p.status, p.payment_hash, p.replaced_payment_hashes, t.lamassu_id::text AS lamassu_id
       FROM satoshimachine.payments p JOIN satoshimachine.lamassu_transactions t ON t.id = p.transaction_id`,
  );
  const walletOfClient = new Map(t.clients.map((c) => [c.id, c.wallet.id]));
  const clientOfWallet = new Map(t.clients.map((c) => [c.wallet.id, c.id]));
  /** payment hash → the payout it belongs to (current and replaced invoices). */
  const payoutOfHash = new Map<string, (typeof pays)[number]>();
  for (const p of pays) for (const h of [p.payment_hash, ...((p.replaced_payment_hashes as string[] | null) ?? [])]) if (h) payoutOfHash.set(h, p);

  // ---- attribute every incoming success to (cash-out, recipient)
  const recipientOf = (walletId: string) => (walletId === t.commission.id ? 'commission' : clientOfWallet.get(walletId));
  const attributed = new Map<string, { lamassuId: string; recipient: string; sats: number; hashes: string[] }>();
  const memoPair = new Map<string, string>();
  const unexplained: LnbitsRecord[] = [];
  const add = (lamassuId: string, recipient: string, r: LnbitsRecord) => {
    const k = `${lamassuId}|${recipient}`;
    const a = attributed.get(k) ?? { lamassuId, recipient, sats: 0, hashes: [] };
    a.sats += msatToSats(r.amountMsat);
    a.hashes.push(r.paymentHash);
    attributed.set(k, a);
    if (r.memo) memoPair.set(`${r.walletId}|${r.memo}`, lamassuId);
  };
  const later: LnbitsRecord[] = [];
  for (const r of incoming) {
    const recipient = recipientOf(r.walletId);
    if (!recipient) continue; // the source wallet's own credits (prefunding, superuser-credit funding)
    const p = payoutOfHash.get(r.paymentHash);
    if (p) {
      const expected = p.kind === 'commission' ? 'commission' : p.client_id;
      if (expected !== recipient) disagreements.push({ lamassuId: p.lamassu_id, detail: `payout ${p.id} (hash ${r.paymentHash}) arrived in wallet ${r.walletId}, not its recipient's` });
      add(p.lamassu_id, recipient, r);
    } else later.push(r);
  }
  for (const r of later) {
    const recipient = recipientOf(r.walletId)!;
    const byExtra = typeof r.extra.lamassuTxId === 'string' ? r.extra.lamassuTxId : undefined;
    const lamassuId = byExtra ?? (r.memo ? memoPair.get(`${r.walletId}|${r.memo}`) : undefined);
    if (lamassuId) add(lamassuId, recipient, r);
    else unexplained.push(r);
  }
  for (const a of attributed.values()) {
    if (a.hashes.length > 1) doublePayments.push({ lamassuId: a.lamassuId, detail: `${a.recipient === 'commission' ? 'commission' : `client ${a.recipient}`} paid ${a.hashes.length} times (${a.sats} sats, hashes ${a.hashes.join(', ')})` });
  }
  for (const r of unexplained) {
    doublePayments.push({ detail: `wallet ${r.walletId} received ${msatToSats(r.amountMsat)} sats (hash ${r.paymentHash}, memo ${JSON.stringify(r.memo)}) that no cash-out explains` });
  }

  // ---- each ledger payout against LNbits
  const incomingByHash = new Map(incoming.map((r) => [r.paymentHash, r]));
  const outgoingHashes = new Set(outgoing.filter((r) => r.walletId === t.source.id).map((r) => r.paymentHash));
  for (const p of pays) {
    const amount = Number(p.amount_sats);
    const hashes = [p.payment_hash, ...((p.replaced_payment_hashes as string[] | null) ?? [])].filter(Boolean) as string[];
    const paid = hashes.map((h) => incomingByHash.get(h)).filter((r): r is LnbitsRecord => !!r);
    const wallet = p.kind === 'commission' ? t.commission.id : walletOfClient.get(p.client_id);
    if (p.status === 'completed' && amount > 0) {
      const ok = paid.filter((r) => r.walletId === wallet && r.amountMsat === BigInt(amount) * 1000n);
      if (ok.length === 0) disagreements.push({ lamassuId: p.lamassu_id, detail: `payout ${p.id} (${p.kind}, ${amount} sats) is completed in the ledger; LNbits shows no such payment received (hashes ${hashes.join(', ') || 'none'})` });
      else if (!ok.some((r) => outgoingHashes.has(r.paymentHash))) disagreements.push({ lamassuId: p.lamassu_id, detail: `payout ${p.id}: received, but LNbits shows no payment of it from the source wallet` });
    } else if (paid.length && (p.status === 'failed' || p.status === 'cancelled')) {
      disagreements.push({ lamassuId: p.lamassu_id, detail: `payout ${p.id} is ${p.status} in the ledger (client debit released) but LNbits shows it paid (${paid.map((r) => r.paymentHash).join(', ')})` });
    }
  }

  // ---- the source's outflows no wallet received (chaos defect 9: LNbits lost an internal payment)
  const { rows: lossRows } = await t.ledger.query(`SELECT payment_id::text AS payment_id, lost_payment_hash, amount_sats::text AS amount_sats FROM satoshimachine.lnbits_losses`);
  const lossOfHash = new Map(lossRows.map((l) => [String(l.lost_payment_hash), l]));
  const statusOfCashOut = new Map(txs.map((x) => [String(x.lamassu_id), String(x.status)]));
  const lnbitsLosses: VerifyReport['lnbitsLosses'] = [];
  for (const r of outgoing.filter((o) => o.walletId === t.source.id && !incomingByHash.has(o.paymentHash))) {
    const p = payoutOfHash.get(r.paymentHash);
    if (!p) continue;
    const sats = -msatToSats(r.amountMsat);
    const wallet = p.kind === 'commission' ? t.commission.id : walletOfClient.get(p.client_id);
    const received = dbRecords.filter((x) => x.paymentHash === r.paymentHash && x.amountMsat > 0n && x.walletId === wallet);
    const loss = lossOfHash.get(r.paymentHash);
    const exact = -r.amountMsat === BigInt(p.amount_sats) * 1000n && received.length === 1 && received[0]!.status === 'failed';
    const base = { lamassuId: String(p.lamassu_id), paymentId: String(p.id), paymentHash: r.paymentHash, sats };
    if (loss && exact && loss.payment_id === p.id && BigInt(loss.amount_sats) === BigInt(p.amount_sats)) {
      lnbitsLosses.push({ ...base, recorded: true, detail: `lost in LNbits (recorded): the source paid ${sats} sats for payout ${p.id}, its recipient's row is failed` });
    } else if (loss) {
      disagreements.push({ lamassuId: base.lamassuId, detail: `recorded LNbits loss ${r.paymentHash} of payout ${String(loss.payment_id)} does not match LNbits (payout ${p.id}, ${sats} sats sent, recipient rows ${received.map((x) => x.status).join(', ') || 'none'})` });
    } else if (statusOfCashOut.get(base.lamassuId) === 'completed') {
      disagreements.push({ lamassuId: base.lamassuId, detail: `the source paid ${sats} sats for payout ${p.id} (hash ${r.paymentHash}) that no wallet received, and no LNbits loss is recorded` });
    } else {
      lnbitsLosses.push({ ...base, recorded: false, detail: `lost in LNbits, not recorded yet: the source paid ${sats} sats for payout ${p.id} of an open cash-out (satmachine tx settle-lost-payment)` });
    }
  }

  // ---- Lamassu rows and sats per cash-out
  const lamassuRows = t.lamassu
    ? (await t.lamassu.query(`SELECT id::text AS id, crypto_atoms::text AS crypto_atoms, status::text AS status, dispense, dispense_confirmed, error, error_code, crypto_code, fiat_code, confirmed_at FROM cash_out_txs`)).rows
    : [];
  const rowsById = new Map(lamassuRows.map((r) => [String(r.id), r]));
  const inScope = (id: string) => !t.lamassuIds || t.lamassuIds.includes(id);
  const ledgerIds = new Set(txs.map((x) => String(x.lamassu_id)));
  const stuck: VerifyReport['stuck'] = [];
  let completed = 0;
  let rejected = 0;
  let cancelledSats = 0;
  for (const tx of txs) {
    const id = String(tx.lamassu_id);
    if (!inScope(id)) continue;
    const row = rowsById.get(id);
    const atoms = BigInt(row ? row.crypto_atoms : tx.crypto_atoms);
    // A rejected row's ledger copy holds placeholders for the values that failed validation.
    if (row && tx.status !== 'rejected' && BigInt(row.crypto_atoms) !== BigInt(tx.crypto_atoms)) disagreements.push({ lamassuId: id, detail: `ledger crypto_atoms ${tx.crypto_atoms} ≠ Lamassu's ${row.crypto_atoms}` });
    const clientSats = t.clients.reduce((s, c) => s + (attributed.get(`${id}|${c.id}`)?.sats ?? 0), 0);
    const commissionSats = attributed.get(`${id}|commission`)?.sats ?? 0;
    if (tx.status === 'rejected') {
      rejected++;
      if (clientSats + commissionSats > 0) doublePayments.push({ lamassuId: id, detail: `rejected cash-out paid ${clientSats + commissionSats} sats` });
      continue;
    }
    if (tx.status !== 'completed') {
      stuck.push({ lamassuId: id, status: String(tx.status), error: (tx.error as string | null) ?? null });
      // Not finished: only an overpayment is already wrong.
      if (BigInt(clientSats + commissionSats) > atoms) satsUnaccounted.push({ lamassuId: id, sats: Number(atoms) - clientSats - commissionSats, detail: `open cash-out (${tx.status}) already paid ${clientSats + commissionSats} sats of ${atoms}` });
      continue;
    }
    completed++;
    const unallocated = BigInt(tx.unallocated_sats ?? 0);
    // Payouts the operator cancelled (`tx cancel-failed`): never paid (checked above), their sats stay in the
    // source wallet and the clients got their fiat back — accounted for, and reported as such.
    const cancelled = pays.filter((p) => p.lamassu_id === id && p.status === 'cancelled').reduce((s, p) => s + BigInt(p.amount_sats), 0n);
    cancelledSats += Number(cancelled);
    const left = atoms - BigInt(clientSats) - BigInt(commissionSats) - unallocated - cancelled;
    if (left !== 0n) {
      satsUnaccounted.push({ lamassuId: id, sats: Number(left), detail: `crypto_atoms ${atoms} − clients ${clientSats} − commission ${commissionSats} − unallocated ${unallocated} − cancelled ${cancelled} = ${left}` });
    }
    if (BigInt(commissionSats) !== BigInt(tx.commission_sats ?? 0)) disagreements.push({ lamassuId: id, detail: `commission received ${commissionSats} sats, ledger commission_sats ${tx.commission_sats}` });
  }
  const lookback = t.lookbackHours ?? 72;
  const qualifying = lamassuRows.filter((r) => inScope(String(r.id)) && qualifiesByColumns(r) && inWindow(r, lookback));
  const notIngested = qualifying.map((r) => String(r.id)).filter((id) => !ledgerIds.has(id));
  // A row that does not qualify (fuzz) must never move money; one confirmed in the future is implausible.
  const implausiblePaid: Finding[] = [];
  for (const r of lamassuRows) {
    const id = String(r.id);
    if (!inScope(id)) continue;
    const paid = [...attributed.values()].filter((a) => a.lamassuId === id).reduce((s, a) => s + a.sats, 0);
    if (paid === 0) continue;
    if (!qualifiesByColumns(r)) doublePayments.push({ lamassuId: id, detail: `non-qualifying Lamassu row paid ${paid} sats` });
    else if (!((r.confirmed_at as Date).getTime() <= Date.now())) implausiblePaid.push({ lamassuId: id, detail: `row confirmed in the future (${(r.confirmed_at as Date).toISOString()}) paid ${paid} sats` });
  }

  const sum = (list: LnbitsRecord[], pred: (r: LnbitsRecord) => boolean) => list.filter(pred).reduce((s, r) => s + msatToSats(r.amountMsat), 0);
  const report: VerifyReport = {
    cashOuts: {
      lamassuRows: lamassuRows.filter((r) => inScope(String(r.id))).length,
      qualifying: qualifying.length,
      inLedger: txs.filter((x) => inScope(String(x.lamassu_id))).length,
      completed, rejected, open: stuck.length, notIngested: notIngested.length, cancelledPayoutSats: cancelledSats,
    },
    lnbits: {
      recordsApi: apiRecords.length,
      recordsDb: dbRecords.length,
      clientSatsReceived: sum(incoming, (r) => clientOfWallet.has(r.walletId)),
      commissionSatsReceived: sum(incoming, (r) => r.walletId === t.commission.id),
      sourceSatsSent: -sum(outgoing, (r) => r.walletId === t.source.id),
      sourceSatsLostRecorded: lnbitsLosses.filter((l) => l.recorded).reduce((s, l) => s + l.sats, 0),
    },
    doublePayments, satsUnaccounted, disagreements, stuck, notIngested, implausiblePaid, lnbitsLosses,
    failed: doublePayments.length > 0 || satsUnaccounted.length > 0 || disagreements.length > 0,
  };
  return report;
}
