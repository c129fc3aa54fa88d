/**
 * The client's statement at /statement/<token> (read-only, no login): the token is the only credential, so a
 * malformed, unknown and revoked token all get the same 404. Nothing here names another client, a key, a
 * wallet or an internal id.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { clientOfStatementToken } from '../../adapters/ledger/statement-links';
import { formatFiat } from '../../client/args';
import { clientStatement, statementCsv, type Statement } from '../../client/statement';
import { accumulatedSatsChart } from '../chart';
import { html } from '../html';
import { page } from '../layout';
import type { ConsoleDeps } from '../forms';

const params = z.object({ token: z.string().max(100) });
const STATUS_TEXT = { completed: 'paid', pending: 'on its way', failed: 'delayed', confirmed: 'confirmed' } as const;
const sats = (v: bigint) => v.toLocaleString('en-US');

function notFound(reply: FastifyReply) {
  return reply.status(404).type('text/html; charset=utf-8').send(page({ title: 'Statement not found', body: html`<p>This statement link does not exist or is no longer valid. Ask your operator for a new one.</p>` }));
}

function statementPage(s: Statement, csvHref: string): string {
  const fiat = (v: bigint) => `${formatFiat(v, s.fiatDecimals)} ${s.currency}`;
  const t = s.totals;
  return page({
    title: `Statement of ${s.name}`,
    body: html`
<p class="muted">As of ${s.asOf.replace('T', ' ').slice(0, 19)} UTC · <a href="${csvHref}">Download CSV</a></p>
<div class="cards">
  <div class="card"><div class="label">Remaining balance</div><div class="value" data-testid="balance">${fiat(s.balanceFiatMinor)}</div></div>
  <div class="card"><div class="label">Total invested (confirmed deposits)</div><div class="value">${fiat(t.investedFiatMinor)}</div></div>
  <div class="card"><div class="label">Sats received</div><div class="value" data-testid="sats-received">${sats(t.satsReceived)}</div></div>
  <div class="card"><div class="label">Average cost per BTC</div><div class="value">${t.averageCostPerBtcFiatMinor === null ? '–' : fiat(t.averageCostPerBtcFiatMinor)}</div></div>
  <div class="card"><div class="label">Spent on bitcoin</div><div class="value">${fiat(t.spentFiatMinor)}</div></div>
  ${t.pendingDepositsFiatMinor > 0n ? html`<div class="card"><div class="label">Deposits awaiting confirmation</div><div class="value">${fiat(t.pendingDepositsFiatMinor)}</div></div>` : ''}
  ${t.adjustmentsFiatMinor !== 0n ? html`<div class="card"><div class="label">Corrections by the operator</div><div class="value">${fiat(t.adjustmentsFiatMinor)}</div></div>` : ''}
</div>
<h2>Sats accumulated</h2>
${accumulatedSatsChart(s.accumulated, s.asOf)}
<h2>Payouts</h2>
${s.payouts.length
  ? html`<table data-testid="payouts"><thead><tr><th>Date (UTC)</th><th class="num">Sats</th><th class="num">Fiat debited</th><th class="num">Price paid per BTC</th><th>Status</th></tr></thead><tbody>
    ${[...s.payouts].reverse().map((p) => html`<tr><td>${p.at.replace('T', ' ').slice(0, 16)}</td><td class="num">${sats(p.amountSats)}</td><td class="num">${fiat(p.fiatDebitMinor)}</td><td class="num">${fiat(p.pricePerBtcFiatMinor)}</td><td>${STATUS_TEXT[p.status]}</td></tr>`)}
    </tbody></table>`
  : html`<p class="muted">No payouts yet.</p>`}
<h2>Deposits</h2>
${s.deposits.length
  ? html`<table data-testid="deposits"><thead><tr><th>Date (UTC)</th><th class="num">Amount</th><th>Status</th></tr></thead><tbody>
    ${[...s.deposits].reverse().map((d) => html`<tr><td>${d.at.replace('T', ' ').slice(0, 16)}</td><td class="num">${fiat(d.amountFiatMinor)}</td><td>${d.status === 'pending' ? 'awaiting confirmation' : STATUS_TEXT[d.status]}</td></tr>`)}
    </tbody></table>`
  : html`<p class="muted">No deposits yet.</p>`}`,
  });
}

export function registerStatement(app: FastifyInstance, deps: ConsoleDeps): void {
  // Generous for a person, far too slow to guess a 256-bit token.
  const limits = { config: { rateLimit: { max: 120, timeWindow: 60_000 } } };
  const clientOf = async (raw: unknown) => {
    const p = params.safeParse(raw);
    return p.success ? clientOfStatementToken(deps.ctx.pool(), p.data.token) : null;
  };

  app.get('/statement/:token', limits, async (req, reply) => {
    const clientId = await clientOf(req.params);
    if (!clientId) return notFound(reply);
    const s = await clientStatement(deps.ctx.pool(), clientId, deps.config.lamassu.fiatDecimals);
    reply.header('x-robots-tag', 'noindex');
    return reply.type('text/html; charset=utf-8').send(statementPage(s, `${(req.params as { token: string }).token}/statement.csv`));
  });

  app.get('/statement/:token/statement.csv', limits, async (req, reply) => {
    const clientId = await clientOf(req.params);
    if (!clientId) return notFound(reply);
    const s = await clientStatement(deps.ctx.pool(), clientId, deps.config.lamassu.fiatDecimals);
    return reply
      .type('text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="statement-${s.asOf.slice(0, 10)}.csv"`)
      .send(statementCsv(s));
  });
}
