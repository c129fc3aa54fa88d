/**
 * The statement's chart: sats accumulated over time as an inline SVG step line, rendered on the server.
 * Amounts stay exact bigints in the data; only the pixel coordinates are computed in floating point.
 */
import { escapeHtml, trusted, type Html } from './html';

const W = 720;
const H = 240;
const PAD = { left: 86, right: 16, top: 16, bottom: 34 };

export function accumulatedSatsChart(points: Array<{ at: string; totalSats: bigint }>, nowIso: string): Html {
  if (points.length === 0) return trusted('<p class="muted">No sats received yet.</p>');
  const t0 = Date.parse(points[0]!.at);
  const t1 = Math.max(Date.parse(nowIso), t0 + 1);
  const max = points[points.length - 1]!.totalSats;
  const x = (t: number) => PAD.left + ((t - t0) / (t1 - t0)) * (W - PAD.left - PAD.right);
  // Pixel position only: the ratio of two exact amounts, as a float.
  const y = (s: bigint) => H - PAD.bottom - (max === 0n ? 0 : Number((s * 1_000_000n) / max) / 1_000_000) * (H - PAD.top - PAD.bottom);
  let d = `M${x(t0).toFixed(1)},${y(0n).toFixed(1)}`;
  let prev = 0n;
  for (const p of points) {
    const px = x(Date.parse(p.at)).toFixed(1);
    d += ` L${px},${y(prev).toFixed(1)} L${px},${y(p.totalSats).toFixed(1)}`;
    prev = p.totalSats;
  }
  d += ` L${x(t1).toFixed(1)},${y(prev).toFixed(1)}`;
  const label = (iso: string) => escapeHtml(iso.slice(0, 10));
  const grid = [0n, max / 2n, max]
    .map((v) => `<line x1="${PAD.left}" x2="${W - PAD.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#e3e6eb"/>` +
      `<text x="${PAD.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#5b6475">${v.toLocaleString('en-US')}</text>`)
    .join('');
  return trusted(
    `<svg role="img" aria-label="Sats accumulated over time" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" xmlns="http://www.w3.org/2000/svg">` +
      grid +
      `<path d="${d}" fill="none" stroke="#f7931a" stroke-width="2.5"/>` +
      `<text x="${PAD.left}" y="${H - 10}" font-size="11" fill="#5b6475">${label(points[0]!.at)}</text>` +
      `<text x="${W - PAD.right}" y="${H - 10}" font-size="11" fill="#5b6475" text-anchor="end">${label(nowIso)}</text>` +
      `</svg>`,
  );
}
