/**
 * The cash-out checks (issue 12), used by the cash-out activities:
 * - `verify`: before recording, the workflow input is validated again (zod) and re-read by id from Lamassu
 *   (READ ONLY, through the tunnel): a row that is not there, differs or is not final is REFUSED — recorded
 *   as rejected, critical alert, 0 sats moved.
 * - `checkCashOutPlausibility`: after the commission split, the plausibility findings (domain/plausibility.ts);
 *   any finding HOLDS the cash-out (ledger status held, critical alert) until the operator decides.
 * - `decideHeldCashOut`: the operator's approve / reject, in the ledger.
 * - `markCashOutFailed`: a workflow that ends without completing leaves its row needs_attention + an alert.
 */
import { raiseAlert } from '../adapters/alerts';
import { createLamassuConnection, type LamassuConnection } from '../adapters/lamassu/connection';
import { fetchCashOutById, type RawCashOutRow } from '../adapters/lamassu/reader';
import { dailyTotals, decideHeld, getCheckedTransaction, holdTransaction, markRunFailed, referencePrice } from '../adapters/ledger/cashout-checks';
import { markRejectionAlerted, recordRejections } from '../adapters/ledger/lamassu-ingestion';
import { cashOutDifferences, toRawRow, validateLamassuRow, type LamassuCashOut } from '../domain/lamassu-row';
import { plausibilityFindings } from '../domain/plausibility';
import type { ActivityDeps } from './deps';

/** Alerts that must be raised once, not once per quiet period (~10 years). */
const ONCE_MINUTES = 5_256_000;

export interface RefusedRecord {
  outcome: 'refused';
  /** The ledger row recorded as rejected ('' when the id is not even a uuid). */
  transactionId: string;
  ownerWorkflowId: null;
  ownerStatus: 'rejected';
  reason: string;
}

export interface PlausibilityResult {
  held: boolean;
  reasons: string[];
}

export interface HoldDecision {
  transactionId: string;
  decision: 'approve' | 'reject';
  by: string;
  reason: string;
}

/** The workflow input as a raw row for the rejected-row record: every value text, bounded. */
function inputAsRaw(row: unknown): RawCashOutRow {
  let raw: Record<string, unknown>;
  try {
    raw = toRawRow(row as LamassuCashOut);
  } catch {
    raw = { id: '(no id)' };
  }
  const text = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, v === null || v === undefined ? null : String(v).slice(0, 500)]));
  return { ...text, id: typeof raw.id === 'string' && raw.id ? raw.id.slice(0, 100) : '(no id)' } as unknown as RawCashOutRow;
}

export function createCashOutChecks(deps: ActivityDeps, opts: { lamassu?: () => LamassuConnection } = {}) {
  const { config, pool, log } = deps;
  let own: LamassuConnection | undefined;
  const lamassu = opts.lamassu ?? (() => (own ??= createLamassuConnection(config.lamassu, log)));
  const rowOptions = { fiatCode: config.lamassu.fiatCode, fiatDecimals: config.lamassu.fiatDecimals };

  async function refuse(row: unknown, owner: { workflowId: string; runId: string }, field: string, reason: string): Promise<RefusedRecord> {
    const raw = inputAsRaw(row);
    await recordRejections(pool, [{ raw, field, reason }]);
    const { rows } = await pool.query(`SELECT id FROM satoshimachine.lamassu_transactions WHERE lamassu_id::text = lower($1)`, [raw.id]);
    const transactionId = rows[0] ? String(rows[0].id) : '';
    await raiseAlert(deps, {
      severity: 'critical',
      kind: 'cashout-refused',
      dedupKey: `cashout-refused:${raw.id}:${owner.runId}`,
      quietPeriodMinutes: ONCE_MINUTES,
      message: `Cash-out workflow ${owner.workflowId} refused: its input for Lamassu cash-out ${raw.id} ${reason}. Nothing paid (a forged start, or the row changed in Lamassu)`,
      details: { lamassuId: raw.id, workflowId: owner.workflowId, runId: owner.runId, field, reason, transactionId: transactionId || null },
    });
    await markRejectionAlerted(pool, raw.id);
    log.error({ lamassuId: raw.id, workflowId: owner.workflowId, field, reason }, 'cash-out input refused');
    return { outcome: 'refused', transactionId, ownerWorkflowId: null, ownerStatus: 'rejected', reason };
  }

  /**
   * null: go on recording. A RefusedRecord: the input is not a real, final Lamassu cash-out (recorded
   * rejected, alerted). A row the ledger already has goes on to the normal record path (same run: a retry;
   * another run: duplicate).
   */
  async function verify(row: LamassuCashOut, owner: { workflowId: string; runId: string }): Promise<RefusedRecord | null> {
    if (typeof row !== 'object' || row === null) return refuse(row, owner, '(input)', 'is not a cash-out row');
    const again = validateLamassuRow(toRawRow(row), rowOptions);
    if (!again.ok) return refuse(row, owner, again.field, `fails validation (${again.field}: ${again.reason})`);
    const { rows: known } = await pool.query(`SELECT 1 FROM satoshimachine.lamassu_transactions WHERE lamassu_id = $1::uuid`, [again.row.id]);
    if (known.length) return null;
    const { payFrom } = config.lamassu;
    if (payFrom && Date.parse(again.row.confirmedAt) < Date.parse(payFrom)) {
      return refuse(row, owner, 'confirmed_at', `was confirmed before lamassu.payFrom ${payFrom} (paid by the previous system)`);
    }
    if (!config.cashOutChecks.verifyInLamassu) return null;
    const raw = await fetchCashOutById(lamassu(), again.row.id);
    if (!raw) return refuse(row, owner, 'id', 'is not in Lamassu');
    const there = validateLamassuRow(raw, rowOptions);
    if (!there.ok) return refuse(row, owner, there.field, `is not final in Lamassu (${there.field}: ${there.reason})`);
    const differs = cashOutDifferences(again.row, there.row);
    if (differs.length) return refuse(row, owner, differs[0]!, `differs from Lamassu in ${differs.join(', ')}`);
    return null;
  }

  const activities = {
    /** Findings → the transaction is held (critical alert, once); none → go on. */
    async checkCashOutPlausibility(input: { transactionId: string }): Promise<PlausibilityResult> {
      const t = await getCheckedTransaction(pool, input.transactionId);
      const c = config.cashOutChecks;
      const [daily, reference] = c.plausibility
        ? await Promise.all([dailyTotals(pool, t), t.rawTickerPrice === null ? referencePrice(pool, t, c.referenceCashOuts) : Promise.resolve(null)])
        : [{ sats: '0', fiat: '0' }, null];
      const reasons = plausibilityFindings(
        {
          cryptoAtoms: t.cryptoAtoms, receivedCryptoAtoms: t.receivedCryptoAtoms, fiat: t.fiat, fiatCode: t.fiatCode, fixedFee: t.fixedFee,
          rawTickerPrice: t.rawTickerPrice, effectiveCommission: t.effectiveCommission ?? '0', excessSats: t.excessSats,
          confirmedAt: t.confirmedAt, now: new Date().toISOString(), referencePrice: reference, dailySats: daily.sats, dailyFiat: daily.fiat,
        },
        c,
        { commissionOnly: !c.plausibility },
      );
      if (!reasons.length) {
        if (t.excessSats > 0) {
          // Lamassu's 100-sat rounding made the commission-free amount exceed crypto_atoms: paid, commission 0.
          await raiseAlert(deps, {
            severity: 'medium',
            kind: 'commission-capped',
            dedupKey: `commission-capped:${t.id}`,
            quietPeriodMinutes: ONCE_MINUTES,
            message: `Cash-out ${t.lamassuId}: the commission-free amount exceeds crypto_atoms by ${t.excessSats} sats (Lamassu's 100-sat rounding); paid with commission 0`,
            details: { lamassuId: t.lamassuId, transactionId: t.id, excessSats: t.excessSats, baseSats: t.baseSats },
          });
        }
        return { held: false, reasons };
      }
      const reason = `held: ${reasons.join('; ')}`;
      await holdTransaction(pool, t.id, reason);
      await raiseAlert(deps, {
        severity: 'critical',
        kind: 'cashout-held',
        dedupKey: `cashout-held:${t.id}`,
        quietPeriodMinutes: ONCE_MINUTES,
        message: `Cash-out ${t.lamassuId} HELD, nothing paid: ${reasons.join('; ')}. ` +
          `Would pay ${t.baseSats ?? '?'} sats to clients and ${t.commissionSats ?? '?'} sats commission. ` +
          `Check it in Lamassu, then \`satmachine tx approve ${t.lamassuId} --reason …\` or \`satmachine tx reject ${t.lamassuId} --reason …\``,
        details: { lamassuId: t.lamassuId, transactionId: t.id, workflowId: t.workflowId, reasons, baseSats: t.baseSats, commissionSats: t.commissionSats, excessSats: t.excessSats },
      });
      return { held: true, reasons };
    },

    /** The operator's decision on a held cash-out (the CLI records the operator event). */
    async decideHeldCashOut(input: HoldDecision): Promise<{ status: string }> {
      const status = await decideHeld(pool, input.transactionId, input.decision, `${input.decision === 'approve' ? 'approved' : 'rejected'} by ${input.by}: ${input.reason}`);
      log.info({ transactionId: input.transactionId, decision: input.decision, by: input.by }, 'held cash-out decided');
      return { status };
    },

    /** The workflow ends without completing: its row needs_attention and a critical alert (once per run). */
    async markCashOutFailed(input: { lamassuId: string; workflowId: string; runId: string; reason: string }): Promise<{ transactionId: string | null; status: string | null }> {
      const isUuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(input.lamassuId);
      const row = isUuid ? await markRunFailed(pool, input.lamassuId, input.runId, input.reason) : null;
      await raiseAlert(deps, {
        severity: 'critical',
        kind: 'cashout-failed',
        dedupKey: `cashout-failed:${input.lamassuId}:${input.runId}`,
        quietPeriodMinutes: ONCE_MINUTES,
        message: `Cash-out ${input.lamassuId} (workflow ${input.workflowId}) ended without completing: ${input.reason}. ` +
          (row ? `Ledger row ${row.id} is ${row.status}.` : 'Nothing was recorded in the ledger.') + ' Nothing more will be paid automatically; see the runbook',
        details: { ...input, transactionId: row?.id ?? null, ledgerStatus: row?.status ?? null },
      });
      return { transactionId: row?.id ?? null, status: row?.status ?? null };
    },
  };

  return {
    verify,
    activities,
    close: async () => {
      await own?.close();
      own = undefined;
    },
  };
}
