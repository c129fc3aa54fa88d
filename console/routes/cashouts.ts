/**
 * Cash-outs: the list with filters, one cash-out with its per-client split and its workflow (a link to the
 * Temporal Web UI), and the cash-out workflow's operator updates retryFailedPayouts / cancelFailedPayouts —
 * sent by the same function as `satmachine tx retry` / `tx cancel-failed`.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { TRANSACTION_STATUSES } from '../../adapters/ledger';
import { formatFiat } from '../../client/args';
import { runUpdate, transactionDetail, workflowView } from '../../client/commands/tx';
import { listTransactions } from '../../client/ledger-views';
import { html } from '../html';
import { page } from '../layout';
import { act, type ConsoleDeps, flashOf, optionalText, parseForm } from '../forms';

const filters = z.object({
  status: z.enum(TRANSACTION_STATUSES).optional().catch(undefined),
  limit: z.coerce.number().int().min(1).max(500).catch(50),
});
const idParam = z.object({ id: z.uuid('expected a Lamassu transaction id') });
const retryForm = z.object({ funding: z.enum(['credited', 'not-credited']).optional().or(z.literal('').transform(() => undefined)), reason: optionalText(500) });
const cancelForm = z.object({ reason: optionalText(500) });

export function registerCashOutPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/cashouts', async (req, reply) => {
    const f = filters.parse(req.query ?? {});
    const rows = await listTransactions(deps.ctx.pool(), { status: f.status, limit: f.limit });
    const d = deps.config.lamassu.fiatDecimals;
    const body = html`
<form method="get" action="/cashouts" class="box">
  <label>Status <select name="status"><option value="">all</option>${TRANSACTION_STATUSES.map((s) => html`<option ${f.status === s ? 'selected' : ''}>${s}</option>`)}</select></label>
  <label>At most <input name="limit" type="number" min="1" max="500" value="${f.limit}"></label>
  <button class="secondary">Filter</button>
</form>
<table data-testid="cashouts"><thead><tr><th>Lamassu id</th><th>Status</th><th>Confirmed</th><th class="num">Sats</th><th class="num">Base</th><th class="num">Commission</th><th class="num">Fiat</th><th>Error</th></tr></thead><tbody>
${rows.map((t) => html`<tr data-cashout="${t.lamassuId}"><td class="mono"><a href="/cashouts/${t.lamassuId}">${t.lamassuId}</a></td><td>${t.status}</td><td>${t.confirmedAt}</td>
  <td class="num">${t.cryptoAtoms}</td><td class="num">${t.baseSats ?? '–'}</td><td class="num">${t.commissionSats ?? '–'}</td>
  <td class="num">${t.fiatMinor === null ? `${t.fiat} ${t.fiatCode}` : `${formatFiat(t.fiatMinor, d)} ${t.fiatCode}`}</td><td>${t.error ?? ''}</td></tr>`)}
</tbody></table>
${rows.length ? '' : html`<p class="muted">No cash-outs.</p>`}`;
    return reply.type('text/html; charset=utf-8').send(page({ title: 'Cash-outs', operator: req.operator, csrf: reply.generateCsrf(), flash: flashOf(req), body }));
  });

  app.get('/cashouts/:id', async (req, reply) => {
    const { id } = parseForm(idParam, req.params);
    const t = await transactionDetail(deps.ctx, id);
    const wf = await workflowView(deps.ctx, t.lamassuId);
    const d = deps.config.lamassu.fiatDecimals;
    const csrf = reply.generateCsrf();
    const hidden = html`<input type="hidden" name="_csrf" value="${csrf}">`;
    const ui = deps.config.console.temporalUiUrl?.replace(/\/+$/, '');
    const wfLink = ui ? `${ui}/namespaces/${encodeURIComponent(deps.config.temporal.namespace)}/workflows/${encodeURIComponent(t.workflowId)}` : null;
    const failed = t.payouts.filter((p) => p.status === 'failed').length + (t.commissionPayout?.status === 'failed' ? 1 : 0);
    const body = html`
<table><tbody>
  <tr><th>Status</th><td data-testid="cashout-status">${t.status}${t.error ? ` — ${t.error}` : ''}</td></tr>
  <tr><th>Workflow</th><td class="mono">${wfLink ? html`<a href="${wfLink}" data-testid="workflow-link">${t.workflowId}</a>` : t.workflowId}
    (${wf.error ? wf.error : `${wf.status}${wf.cashOutStatus ? `, ${wf.cashOutStatus}` : ''}`})</td></tr>
  <tr><th>Confirmed at</th><td>${t.confirmedAt}</td></tr>
  <tr><th>Crypto atoms</th><td>${t.cryptoAtoms} ${t.cryptoCode}</td></tr>
  <tr><th>Fiat</th><td>${t.fiat} ${t.fiatCode}</td></tr>
  <tr><th>Commission</th><td>${t.commissionPercentage ?? '–'} (discount ${t.discount ?? 0} %) → effective ${t.effectiveCommission ?? '–'} (${t.commissionModel ?? '–'})</td></tr>
  <tr><th>Base / commission / allocated / unallocated sats</th><td>${t.baseSats ?? '–'} / ${t.commissionSats ?? '–'} / ${t.allocatedSats} / ${t.unallocatedSats ?? '–'}</td></tr>
  <tr><th>Commission payout</th><td>${t.commissionPayout ? `${t.commissionPayout.amountSats} sats, ${t.commissionPayout.status}` : '–'}</td></tr>
</tbody></table>
<h2>Per-client split</h2>
${t.payouts.length
  ? html`<table data-testid="split"><thead><tr><th>Client</th><th class="num">Sats</th><th class="num">Fiat debited</th><th>Status</th><th class="num">Attempts</th><th>Payment hash</th><th>Last error</th></tr></thead><tbody>
    ${t.payouts.map((p) => html`<tr><td>${p.clientName ?? p.clientId}</td><td class="num">${p.amountSats}</td><td class="num">${formatFiat(p.fiatDebitMinor, d)}</td><td>${p.status}</td><td class="num">${p.attempts}</td><td class="mono">${p.paymentHash ?? '–'}</td><td>${p.lastError ?? ''}</td></tr>`)}
    </tbody></table>`
  : html`<p class="muted">No payouts reserved.</p>`}
<h2>Operator actions</h2>
<p class="muted">${t.status === 'needs_attention' || failed ? `${failed} failed payout(s); the cash-out waits for a decision.` : 'Only a cash-out with failed payouts (needs attention) accepts these; the workflow refuses otherwise.'}</p>
<form method="post" action="/cashouts/${t.lamassuId}/retry" class="box">${hidden}
  <label>Funding (only when the source wallet credit is uncertain) <select name="funding"><option value="">–</option><option>credited</option><option>not-credited</option></select></label>
  <label>Reason <input name="reason"></label>
  <button>Retry failed payouts</button>
</form>
<form method="post" action="/cashouts/${t.lamassuId}/cancel-failed" class="box">${hidden}
  <label>Reason <input name="reason"></label>
  <button class="danger">Cancel failed payouts (clients get their fiat back)</button>
</form>`;
    return reply.type('text/html; charset=utf-8').send(page({ title: `Cash-out ${t.lamassuId}`, operator: req.operator, csrf, flash: flashOf(req), body }));
  });

  app.post('/cashouts/:id/retry', (req, reply) => {
    const back = `/cashouts/${encodeURIComponent(String((req.params as { id?: unknown }).id ?? ''))}`;
    return act(reply, back, async () => {
      const { id } = parseForm(idParam, req.params);
      const f = parseForm(retryForm, req.body);
      const { result } = await runUpdate(deps.ctx, id, 'retryFailedPayouts', { actor: req.operator, reason: f.reason, funding: f.funding });
      return `retry of ${result.payouts} failed payout(s) accepted`;
    });
  });

  app.post('/cashouts/:id/cancel-failed', (req, reply) => {
    const back = `/cashouts/${encodeURIComponent(String((req.params as { id?: unknown }).id ?? ''))}`;
    return act(reply, back, async () => {
      const { id } = parseForm(idParam, req.params);
      const f = parseForm(cancelForm, req.body);
      const { result } = await runUpdate(deps.ctx, id, 'cancelFailedPayouts', { actor: req.operator, reason: f.reason });
      return `cancel of ${result.payouts} failed payout(s) accepted: their clients get their fiat back`;
    });
  });
}
