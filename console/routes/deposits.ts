/** Deposits: record, confirm (credits the balance once), cancel, with totals — `satmachine deposits`. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listClients } from '../../adapters/ledger';
import { formatFiat, parseFiatAmount } from '../../client/args';
import { depositTotals } from '../../client/console-views';
import { cancelDepositAs, confirmDepositAs, recordDeposit } from '../../client/deposit-actions';
import { listDeposits } from '../../client/ledger-views';
import { html } from '../html';
import { page } from '../layout';
import { act, type ConsoleDeps, flashOf, optionalText, parseForm, uuidParam } from '../forms';

const STATUSES = ['pending', 'confirmed', 'cancelled'] as const;
const filters = z.object({ status: z.enum(STATUSES).optional().catch(undefined), client: z.uuid().optional().catch(undefined) });
const addForm = z.object({
  clientId: z.uuid('choose a client'),
  amount: z.string().trim().min(1, 'required').max(40),
  note: optionalText(500),
  confirm: z.literal('on').optional(),
});

export function registerDepositPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/deposits', async (req, reply) => {
    const f = filters.parse(req.query ?? {});
    const pool = deps.ctx.pool();
    const [rows, totals, clients] = await Promise.all([listDeposits(pool, { status: f.status, clientId: f.client, limit: 200 }), depositTotals(pool), listClients(pool)]);
    const d = deps.config.lamassu.fiatDecimals;
    const csrf = reply.generateCsrf();
    const hidden = html`<input type="hidden" name="_csrf" value="${csrf}">`;
    const body = html`
<h2>Totals</h2>
<table data-testid="deposit-totals"><thead><tr><th>Status</th><th class="num">Count</th><th class="num">Amount</th></tr></thead><tbody>
${totals.map((t) => html`<tr><td>${t.status}</td><td class="num">${t.count}</td><td class="num">${formatFiat(t.amountFiatMinor, d)} ${t.currency}</td></tr>`)}
</tbody></table>
<h2>Record a deposit</h2>
<form method="post" action="/deposits" class="box">${hidden}
  <label>Client <select name="clientId" required><option value="">choose…</option>${clients.filter((c) => c.status !== 'closed').map((c) => html`<option value="${c.id}">${c.name} (${c.currency})</option>`)}</select></label>
  <label>Amount <input name="amount" inputmode="decimal" placeholder="1500.50" required></label>
  <label>Note <input name="note"></label>
  <label>Confirm now <input type="checkbox" name="confirm"></label>
  <button>Record deposit</button>
</form>
<h2>Deposits</h2>
<form method="get" action="/deposits" class="box">
  <label>Status <select name="status"><option value="">all</option>${STATUSES.map((s) => html`<option ${f.status === s ? 'selected' : ''}>${s}</option>`)}</select></label>
  <button class="secondary">Filter</button>
</form>
<table data-testid="deposits"><thead><tr><th>Client</th><th class="num">Amount</th><th>Status</th><th>Recorded</th><th>Confirmed</th><th>Note</th><th></th></tr></thead><tbody>
${rows.map((r) => html`<tr data-deposit="${r.id}"><td>${r.clientName}</td><td class="num">${formatFiat(r.amountFiatMinor, d)} ${r.currency}</td><td>${r.status}</td><td>${r.createdAt}</td><td>${r.confirmedAt ?? '–'}</td><td>${r.note ?? ''}</td>
<td>${r.status === 'pending'
  ? html`<form method="post" action="/deposits/${r.id}/confirm" class="inline">${hidden}<button>Confirm</button></form>
    <form method="post" action="/deposits/${r.id}/cancel" class="inline">${hidden}<button class="danger">Cancel</button></form>`
  : ''}</td></tr>`)}
</tbody></table>`;
    return reply.type('text/html; charset=utf-8').send(page({ title: 'Deposits', operator: req.operator, csrf, flash: flashOf(req), body }));
  });

  app.post('/deposits', (req, reply) =>
    act(reply, '/deposits', async () => {
      const f = parseForm(addForm, req.body);
      const amountFiatMinor = parseFiatAmount(f.amount, deps.config.lamassu.fiatDecimals, 'amount');
      const r = await recordDeposit(deps.ctx, { clientId: f.clientId, amountFiatMinor, note: f.note, confirm: f.confirm === 'on' }, req.operator);
      const d = deps.config.lamassu.fiatDecimals;
      return `deposit of ${formatFiat(r.deposit.amount, d)} ${r.client.currency} for ${r.client.name} recorded, ${r.deposit.status}${r.balanceAfter !== null ? `; balance now ${formatFiat(r.balanceAfter, d)}` : ''}`;
    }),
  );

  app.post('/deposits/:id/confirm', (req, reply) =>
    act(reply, '/deposits', async () => {
      const { id } = parseForm(uuidParam, req.params);
      const { change } = await confirmDepositAs(deps.ctx, id, req.operator);
      const d = deps.config.lamassu.fiatDecimals;
      return change ? `deposit confirmed; balance ${formatFiat(change.before, d)} → ${formatFiat(change.after, d)}` : 'the deposit was already confirmed';
    }),
  );

  app.post('/deposits/:id/cancel', (req, reply) =>
    act(reply, '/deposits', async () => {
      const { id } = parseForm(uuidParam, req.params);
      await cancelDepositAs(deps.ctx, id, req.operator);
      return 'deposit cancelled';
    }),
  );
}
