/**
 * Daily reconciliation activities: begin (a report row), the ledger checks (adapters/ledger/reconciliation.ts),
 * the LNbits checks (each completed payout known and paid by LNbits, and received by its recipient
 * (reconcile-recipient.ts); the commission wallet against Σ commission
 * since config.reconcileSince), and finish (store the report, alert per kind once a day).
 * Keys are read from config inside the activity; findings hold ids and amounts only.
 */
import { heartbeat } from '@temporalio/activity';
import { raiseAlert, resolveAlerts, severityFor, type AlertSeverity } from '../adapters/alerts';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { LnbitsAuthError } from '../adapters/lnbits/errors';
import { beginReport, completedPayoutsPage, finishReport, reconcileLedger, unpaidInvoicesPage, type CompletedPayout } from '../adapters/ledger/reconciliation';
import { createRecipientCheck } from './reconcile-recipient';
import { verifyRecordedLosses } from './reconcile-losses';
import type { ActivityDeps } from './deps';

export interface Finding {
  kind: string;
  severity: AlertSeverity;
  subject: string;
  message: string;
  details: Record<string, unknown>;
}

/** One part of the reconciliation: capped findings, exact counts, a summary. */
export interface ReconcilePart {
  part: 'ledger' | 'lnbits';
  findings: Finding[];
  counts: Record<string, number>;
  summary: Record<string, unknown>;
}

export type LnbitsScope = 'all' | 'recent' | 'skip';

export interface ReconcileLnbitsInput {
  reportId: string;
  /** all: every completed payout; recent: completed since the previous report − 1 day (all when none); skip. */
  scope: LnbitsScope;
  previousStartedAt: string | null;
  /** Verify only this fraction of the payouts in scope (benchmarks, huge ledgers). */
  sampleFraction?: number;
  concurrency?: number;
}

export interface ReconciliationReport {
  reportId: string;
  startedAt: string;
  finishedAt: string;
  /** Findings per kind (exact). */
  counts: Record<string, number>;
  /** The first findings of each kind. */
  findings: Finding[];
  alertsRaised: string[];
  summary: Record<string, unknown>;
}

/** Finding kinds of each part (an open alert of a kind the run checked and did not find is resolved). */
const LEDGER_FINDING_KINDS = ['balance-mismatch', 'commission-formula', 'conservation', 'payout-over-allocated', 'payout-missing', 'deposit-pending-long'];
const LNBITS_FINDING_KINDS = ['payout-not-in-lnbits', 'payout-not-received', 'reconciliation-incomplete', 'commission-wallet-mismatch', 'lnbits-loss-mismatch'];

/** Findings kept per kind in workflow payloads and in the stored report (counts stay exact). */
export const MAX_FINDINGS_PER_KIND = 50;
const PAGE = 500;
const DAY_MS = 86_400_000;

const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** Runs `fn` over `items` with at most `limit` in flight. */
async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export function createReconcileActivities(deps: ActivityDeps) {
  const { config, pool, log } = deps;
  const sev = (kind: string) => severityFor(config, kind);

  return {
    async beginReconciliation(input: { runKey: string }): Promise<{ reportId: string; startedAt: string; previousStartedAt: string | null }> {
      return beginReport(pool, input.runKey);
    },

    async reconcileLedgerPart(input: { reportId: string }): Promise<ReconcilePart> {
      const r = await reconcileLedger(pool, {
        reportId: input.reportId,
        pendingDepositHours: config.alerts.pendingDepositHours,
        commissionSince: config.reconcileSince ?? null,
        maxFindingsPerKind: MAX_FINDINGS_PER_KIND,
      });
      log.info({ reportId: input.reportId, counts: r.counts, timingsMs: r.summary.timingsMs }, 'reconciliation: ledger part');
      return { part: 'ledger', findings: r.findings.map((f) => ({ ...f, severity: sev(f.kind) })), counts: r.counts, summary: r.summary as unknown as Record<string, unknown> };
    },

    async reconcileLnbitsPart(input: ReconcileLnbitsInput): Promise<ReconcilePart> {
      const findings: Finding[] = [];
      const counts: Record<string, number> = {};
      const add = (f: Omit<Finding, 'severity'>) => {
        counts[f.kind] = (counts[f.kind] ?? 0) + 1;
        if (counts[f.kind]! <= MAX_FINDINGS_PER_KIND) findings.push({ ...f, severity: sev(f.kind) });
      };
      const summary: Record<string, unknown> = { scope: input.scope, sampleFraction: input.sampleFraction ?? null };
      if (input.scope === 'skip') return { part: 'lnbits', findings, counts, summary: { ...summary, skipped: true } };

      const lnbits = createLnbitsClient({ url: config.lnbits.url, timeoutMs: config.lnbits.requestTimeoutMs });
      const sourceKey = config.lnbits.source.adminKey ?? config.lnbits.source.invoiceKey;
      const since = input.scope === 'recent' && input.previousStartedAt ? new Date(Date.parse(input.previousStartedAt) - DAY_MS).toISOString() : null;
      summary.since = since;
      let checked = 0;
      let withoutHash = 0;
      let unreachable = 0;
      let keyRejected = false;
      const recipient = createRecipientCheck(deps, lnbits, add);

      const verify = async (row: CompletedPayout) => {
        if (keyRejected) return;
        const { bolt11: _bolt11, recordedLost: _lost, ...p } = row;
        if (!p.paymentHash) {
          withoutHash++;
          add({ kind: 'payout-not-in-lnbits', subject: p.id, message: `payout ${p.id} (${p.kind}, ${p.amountSats} sats) is completed but has no payment hash`, details: { ...p, reason: 'no-hash' } });
          return;
        }
        try {
          const s = await lnbits.getPayment(sourceKey!, p.paymentHash);
          checked++;
          const reason = !s ? 'unknown' : !s.paid ? `not paid (${s.status})` : -s.amountMsat !== BigInt(p.amountSats) * 1000n ? `amount ${-s.amountMsat} msat` : null;
          if (reason) {
            add({ kind: 'payout-not-in-lnbits', subject: p.id, message: `payout ${p.id} (${p.kind}, ${p.amountSats} sats) is completed in the ledger; LNbits: ${reason}`, details: { ...p, reason } });
          }
          // The payer's row cannot show that the money arrived: once it shows the source paid, the recipient's own
          // rows are read too (a hash recorded as lost in LNbits is the losses check's, never this one's).
          if (!reason && !row.recordedLost) await recipient.check({ ...row, paymentHash: p.paymentHash });
        } catch (err) {
          if (err instanceof LnbitsAuthError) keyRejected = true;
          else unreachable++;
        }
      };

      if (!sourceKey) {
        add({ kind: 'reconciliation-incomplete', subject: 'lnbits.source', message: 'no source wallet key configured: payouts not verified against LNbits', details: {} });
      } else {
        let afterId: string | null = null;
        for (;;) {
          const page = await completedPayoutsPage(pool, { afterId, since, limit: PAGE, sampleFraction: input.sampleFraction });
          if (page.length === 0) break;
          await forEachLimited(page, input.concurrency ?? 8, verify);
          afterId = page[page.length - 1]!.id;
          heartbeat({ afterId, checked });
          if (keyRejected) break;
        }
        // Payouts that are not completed, and replaced invoices: any LNbits payment of them is a finding (issue 19).
        let afterKey: string | null = null;
        while (!keyRejected) {
          const page: Awaited<ReturnType<typeof unpaidInvoicesPage>> = await unpaidInvoicesPage(pool, { afterKey, limit: PAGE });
          if (page.length === 0) break;
          await forEachLimited(page, input.concurrency ?? 8, async (p) => {
            if (keyRejected) return;
            try {
              const s = await lnbits.getPayment(sourceKey, p.paymentHash!);
              checked++;
              if (s && (s.paid || s.status === 'pending')) {
                add({
                  kind: 'payout-paid-not-completed',
                  subject: p.id,
                  message: `payout ${p.id} (${p.kind}, ${p.amountSats} sats) is ${p.status} in the ledger, but LNbits has a ${s.paid ? 'paid' : 'pending'} payment of its invoice ${p.paymentHash}`,
                  details: { ...p, lnbitsStatus: s.status, amountMsat: s.amountMsat.toString() },
                });
              }
            } catch (err) {
              if (err instanceof LnbitsAuthError) keyRejected = true;
              else unreachable++;
            }
          });
          afterKey = page[page.length - 1]!.key;
          heartbeat({ afterKey, checked });
        }
        // Recorded LNbits losses: still exactly the signature they were accepted for (never a payment received twice).
        if (!keyRejected) summary.lnbitsLosses = await verifyRecordedLosses(deps, lnbits, sourceKey, add);
        if (keyRejected) add({ kind: 'reconciliation-incomplete', subject: 'lnbits.source', message: 'LNbits rejected the source wallet key: payouts not verified', details: { checked } });
        if (unreachable) add({ kind: 'reconciliation-incomplete', subject: 'lnbits', message: `${unreachable} payout(s) could not be verified: LNbits did not answer`, details: { unreachable } });
        Object.assign(summary, recipient.finish());
      }
      Object.assign(summary, { checked, withoutHash, unreachable, keyRejected });

      // Commission wallet balance against Σ commission completed since reconcileSince.
      const commissionKey = config.lnbits.commission.invoiceKey ?? config.lnbits.commission.adminKey;
      if (commissionKey) {
        try {
          const w = await lnbits.getWallet(commissionKey);
          summary.commissionWalletBalanceMsat = w.balanceMsat.toString();
          const { rows } = await pool.query<{ s: string }>(
            `SELECT COALESCE(sum(amount_sats), 0)::text AS s FROM satoshimachine.payments
              WHERE kind = 'commission' AND status = 'completed' AND ($1::timestamptz IS NULL OR completed_at >= $1)`,
            [config.reconcileSince ?? null],
          );
          const expectedMsat = BigInt(rows[0]!.s) * 1000n;
          const diffMsat = w.balanceMsat - expectedMsat;
          Object.assign(summary, { commissionExpectedSats: rows[0]!.s, commissionSince: config.reconcileSince ?? null, commissionWalletDifferenceMsat: diffMsat.toString() });
          const abs = diffMsat < 0n ? -diffMsat : diffMsat;
          if (config.reconcileCommissionWallet && abs > BigInt(config.alerts.maxBalanceDiscrepancySats) * 1000n) {
            add({
              kind: 'commission-wallet-mismatch',
              subject: 'lnbits.commission',
              message: `commission wallet holds ${w.balanceMsat} msat; Σ commission since ${config.reconcileSince ?? 'the beginning'} is ${expectedMsat} msat (difference ${diffMsat} msat; reconcileSince sets the start)`,
              details: { balanceMsat: w.balanceMsat.toString(), expectedMsat: expectedMsat.toString(), differenceMsat: diffMsat.toString(), since: config.reconcileSince ?? null },
            });
          }
        } catch (err) {
          add({ kind: 'reconciliation-incomplete', subject: 'lnbits.commission', message: `commission wallet not checked: ${errText(err)}`, details: {} });
        }
      }
      log.info({ reportId: input.reportId, counts, checked }, 'reconciliation: LNbits part');
      return { part: 'lnbits', findings, counts, summary };
    },

    /** Stores the report and raises one alert per finding kind per day (those over their threshold). */
    async finishReconciliation(input: { reportId: string; startedAt: string; parts: ReconcilePart[] }): Promise<ReconciliationReport> {
      const counts: Record<string, number> = {};
      for (const p of input.parts) for (const [k, n] of Object.entries(p.counts)) counts[k] = (counts[k] ?? 0) + n;
      const findings = input.parts.flatMap((p) => p.findings);
      const summary = Object.fromEntries(input.parts.map((p) => [p.part, p.summary]));
      const { finishedAt } = await finishReport(pool, input.reportId, findings, { ...summary, counts });

      const day = input.startedAt.slice(0, 10);
      const alertsRaised: string[] = [];
      const maxFiat = config.alerts.maxBalanceDiscrepancyFiatMinor;
      for (const [kind, n] of Object.entries(counts)) {
        let of = findings.filter((f) => f.kind === kind);
        // Balance mismatches alert only beyond the configured threshold (the finding is reported regardless).
        if (kind === 'balance-mismatch') {
          of = of.filter((f) => Math.abs(Number(f.details.discrepancyFiatMinor)) > maxFiat);
          if (of.length === 0) continue;
        }
        const r = await raiseAlert(deps, {
          severity: sev(kind),
          kind,
          dedupKey: `reconcile:${kind}:${day}`,
          quietPeriodMinutes: 24 * 60,
          message: `reconciliation ${input.reportId}: ${n} ${kind} finding(s); first: ${of[0]?.message ?? ''}`,
          details: { reportId: input.reportId, count: n, subjects: of.slice(0, 20).map((f) => f.subject) },
        });
        if (r.raised) alertsRaised.push(kind);
      }
      // Kinds this run checked and found clean (or under their threshold): their open alerts are resolved.
      const lnbitsRan = input.parts.some((p) => p.part === 'lnbits' && !p.summary.skipped);
      const checked = [...LEDGER_FINDING_KINDS, ...(lnbitsRan ? LNBITS_FINDING_KINDS : [])];
      const still = new Set(alertsRaised.concat(Object.keys(counts).filter((k) => k !== 'balance-mismatch' || findings.some((f) => f.kind === k && Math.abs(Number(f.details.discrepancyFiatMinor)) > maxFiat))));
      for (const kind of checked) {
        if (still.has(kind)) continue;
        await resolveAlerts(deps, { dedupKeyLike: `reconcile:${kind}:%` }, 'satmachine', `reconciliation ${input.reportId}: no ${kind} finding`);
      }
      return { reportId: input.reportId, startedAt: input.startedAt, finishedAt, counts, findings, alertsRaised, summary };
    },
  };
}

export type ReconcileActivities = ReturnType<typeof createReconcileActivities>;
