/**
 * The Web UI's current details of a cash-out waiting for the operator: how many of its payouts are not paid
 * (the same count as the FailedPayouts search attribute), who they are for — by client NAME — and the first
 * error. Pure string building: no commands.
 */
import type { PayoutView } from '../activities/cashout';

const short = (text: string, max = 200) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

export function attentionDetails(payouts: PayoutView[], failed: number, clientNames: Record<string, string>, lastError: string | null): string {
  const open = payouts.filter((p) => p.status !== 'completed' && p.status !== 'cancelled');
  const who = open.map((p) => (p.kind === 'commission' ? 'commission' : (clientNames[p.clientId ?? ''] ?? `client ${(p.clientId ?? '').slice(0, 8)}`)));
  const firstError = open.find((p) => p.lastError)?.lastError ?? lastError ?? '';
  const total = payouts.filter((p) => p.amountSats > 0).length;
  const of = total ? ` of ${total}` : '';
  return `${failed}${of} payout(s) not paid${who.length ? ` (${who.join(', ')})` : ''}${firstError ? `: ${short(firstError)}` : ''} — satmachine tx retry | tx cancel-failed`;
}
