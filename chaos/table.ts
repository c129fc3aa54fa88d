/** The short table printed under the JSON: one line per campaign stack. */
import type { StackRun } from './campaign';

export function table(results: Array<{ campaign: string; durationS: number; runs: StackRun[]; error?: string }>): string {
  const head = ['campaign', 'stack', 'faults', 'cash-outs', 'completed', 'double paid', 'sats unacc.', 'disagree', 'stuck', 'recovered', 'time'];
  const rows: string[][] = [];
  for (const r of results) {
    if (r.error) rows.push([r.campaign, '-', '-', '-', '-', '-', '-', '-', '-', '-', `${r.durationS} s  ERROR ${r.error.slice(0, 60)}`]);
    for (const x of r.runs) {
      const v = x.verification;
      // Per-mode and per-kind details (keys with ':') stay in the JSON.
      const faults = Object.entries(x.faults).filter(([k]) => !k.includes(':')).map(([k, n]) => `${k}=${n}`).join(' ');
      const stuckIds = new Set(x.recoveries.map((c) => c.lamassuId));
      const recovered = new Set(x.recoveries.filter((c) => c.recovered).map((c) => c.lamassuId));
      rows.push([
        r.campaign, x.stack, faults, String(x.workload.cashOuts), String(v.cashOuts.completed), String(v.doublePayments.length),
        String(v.satsUnaccounted.reduce((s, u) => s + Math.abs(u.sats), 0)), String(v.disagreements.length),
        `${stuckIds.size}+${v.notIngested.length} ni`, `${recovered.size}/${stuckIds.size}`, `${x.durationS} s`,
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => Math.min(r[i]!.length, i === 2 ? 70 : 200))));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 && c.length > 70 ? `${c.slice(0, 67)}...` : c).padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
