/**
 * Default severities: the runbook's "Automated Alert Triggers" table, extended to every alert kind this
 * project raises. config.alerts.severities overrides them per kind (raiseAlert applies the override).
 */
import type { Config } from '../../config/schema';

export type AlertSeverity = 'critical' | 'high' | 'medium' | 'info';

export const SEVERITY_RANK: Record<AlertSeverity, number> = { info: 0, medium: 1, high: 2, critical: 3 };

export const DEFAULT_SEVERITIES = {
  // 🔴 "Duplicate Transaction Detected": a cash-out paid more than its base (double payout).
  'payout-over-allocated': 'critical',
  // A processed cash-out whose payouts are missing, or whose split does not add up: money unaccounted.
  'payout-missing': 'critical',
  'conservation': 'critical',
  // 🔴 "Payment Stuck > 15 minutes" (sweep) and the readiness threshold (> 2 h, health).
  'payout-stuck': 'critical',
  'payout-stuck-long': 'critical',
  // A payout the ledger calls completed that LNbits does not know or did not pay.
  'payout-not-in-lnbits': 'critical',
  // A completed payout the source paid whose recipient wallet's incoming row is not success (LNbits failed it
  // after the payment): the client is not credited.
  'payout-not-received': 'critical',
  // LNbits' answers and the ledger disagree about a payout (wrong invoice, payment without proof): held for the operator.
  'payout-disagreement': 'critical',
  'payout-paid-not-completed': 'critical',
  // A recorded LNbits loss (tx settle-lost-payment) LNbits no longer shows as lost: possibly paid twice.
  'lnbits-loss-mismatch': 'critical',
  'cashout-orphaned': 'critical',
  // 🟠 "Polling Failed > 24 hours".
  'poll-stale': 'high',
  'poller-not-running': 'high',
  // The poller's own fetches have been failing for alerts.pollFailureAlertSeconds (SSH / Lamassu DB down).
  'poll-failing': 'high',
  // 🟠 "Balance Discrepancy > threshold".
  'balance-mismatch': 'high',
  'commission-wallet-mismatch': 'high',
  // 🟠 "Wallet Inaccessible"; a rejected key (rotated/revoked) also pauses the poller: critical.
  'wallet-key-rejected': 'critical',
  'wallet-unreachable': 'high',
  // 🟡 "Database Connection Failed".
  'lamassu-unreachable': 'medium',
  // 🟡 "Commission Calculation Anomaly".
  'commission-formula': 'medium',
  // Runbook "warning indicators".
  'deposit-pending-long': 'info',
  'reconciliation-incomplete': 'medium',
} as const satisfies Record<string, AlertSeverity>;

export type KnownAlertKind = keyof typeof DEFAULT_SEVERITIES;

/** The severity of `kind`: the config override, else the default, else `fallback`. */
export function severityFor(config: Config, kind: string, fallback: AlertSeverity = 'high'): AlertSeverity {
  return config.alerts.severities[kind] ?? (DEFAULT_SEVERITIES as Record<string, AlertSeverity>)[kind] ?? fallback;
}
