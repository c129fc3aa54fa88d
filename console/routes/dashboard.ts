/**
 * The dashboard: the payouts switch, the poller, the schedules' last runs, today's cash-outs and sats, what is
 * owed to clients, open alerts (acknowledge), recent operator actions. The same `collectStatus` as
 * `satmachine status`: a part that cannot be reached is shown as unavailable and the rest still renders.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { listOperatorEvents } from '../../adapters/ledger/operator-control';
import { acknowledgeAlert } from '../../client/alert-actions';
import { formatFiat } from '../../client/args';
import { dayFigures } from '../../client/console-views';
import { collectStatus } from '../../client/commands/status';
import { formatPoller } from '../../client/commands/poller';
import { messageOf } from '../../client/context';
import { html, type Html } from '../html';
import { page } from '../layout';
import { act, type ConsoleDeps, flashOf } from '../forms';

const unavailable = (error: string) => html`<p class="flash err">unavailable: ${error}</p>`;
const badge = (text: string, good: boolean) => html`<span class="badge ${good ? 'good' : 'bad'}">${text}</span>`;

export function registerDashboard(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/', async (req, reply) => {
    const { ctx } = deps;
    const d = deps.config.lamassu.fiatDecimals;
    const [status, figures, events] = await Promise.all([
      collectStatus(ctx),
      dayFigures(ctx.pool()).then((v) => ({ ok: true as const, value: v }), (err: unknown) => ({ ok: false as const, error: messageOf(err) })),
      listOperatorEvents(ctx.pool(), { limit: 12 }).catch(() => []),
    ]);
    const csrf = reply.generateCsrf();
    const c = status.control;
    const p = status.poller;
    const switchCard: Html = c.ok
      ? c.value.payoutsHalted
        ? html`${badge('HALTED', false)} since ${c.value.haltedAt} by ${c.value.haltedBy}: ${c.value.haltedReason}`
        : badge('running', true)
      : unavailable(c.error);
    const pollerCard: Html = p.ok
      ? p.value.status
        ? p.value.status.paused
          ? html`${badge('PAUSED', false)} ${p.value.status.pausedReason ?? ''}`
          : html`${badge('polling', true)} last success ${p.value.status.lastSuccessAt ?? '–'}`
        : html`${badge(p.value.execution, false)} ${p.value.error ?? ''}`
      : unavailable(p.error);
    const body = html`
<div class="cards">
  <div class="card"><div class="label">Payouts switch</div><div data-testid="payouts-switch">${switchCard}</div></div>
  <div class="card"><div class="label">Poller</div><div data-testid="poller">${pollerCard}</div></div>
  ${figures.ok
    ? html`
  <div class="card"><div class="label">Cash-outs today (UTC)</div><div class="value" data-testid="cashouts-today">${figures.value.cashOutsToday}</div></div>
  <div class="card"><div class="label">Sats paid to clients today</div><div class="value">${figures.value.clientSatsToday.toLocaleString('en-US')}</div></div>
  <div class="card"><div class="label">Sats paid to clients in all</div><div class="value" data-testid="sats-total">${figures.value.clientSatsTotal.toLocaleString('en-US')}</div></div>
  <div class="card"><div class="label">Commission earned (sats)</div><div class="value">${figures.value.commissionSatsTotal.toLocaleString('en-US')}</div></div>
  ${figures.value.liability.map((l) => html`<div class="card"><div class="label">Client liability (${l.clients} clients)</div><div class="value" data-testid="liability">${formatFiat(l.balanceFiatMinor, d)} ${l.currency}</div></div>`)}`
    : unavailable(figures.error)}
</div>
<h2>Open alerts</h2>
${status.alerts.ok
  ? status.alerts.value.total
    ? html`<table><thead><tr><th>Severity</th><th>Kind</th><th>At</th><th>Message</th><th></th></tr></thead><tbody>
      ${status.alerts.value.alerts.map((a) => html`<tr><td>${badge(a.severity, false)}</td><td>${a.kind}</td><td>${a.createdAt}</td><td>${a.message}</td>
        <td><form method="post" action="/alerts/${a.id}/ack" class="inline"><input type="hidden" name="_csrf" value="${csrf}"><button class="secondary">Acknowledge</button></form></td></tr>`)}
      </tbody></table>${status.alerts.value.total > status.alerts.value.alerts.length ? html`<p class="muted">${status.alerts.value.total} open in all; the most severe shown.</p>` : ''}`
    : html`<p class="muted">No open alerts.</p>`
  : unavailable(status.alerts.error)}
<h2>Schedules</h2>
${status.schedules.ok
  ? html`<table><thead><tr><th>Schedule</th><th>State</th><th>Last run</th><th>Next run</th></tr></thead><tbody>
    ${status.schedules.value.map((s) => html`<tr><td>${s.id}</td><td>${s.exists ? (s.paused ? `paused ${s.note ?? ''}` : 'active') : s.note}</td><td>${s.lastRun ?? '–'}</td><td>${s.nextRuns[0] ?? '–'}</td></tr>`)}
    </tbody></table>`
  : unavailable(status.schedules.error)}
<h2>Poller</h2>
${p.ok ? html`<pre>${formatPoller(p.value)}</pre>` : unavailable(p.error)}
<h2>Payouts</h2>
${status.payouts.ok
  ? html`<table><thead><tr><th>Status</th><th class="num">Count</th><th class="num">Sats</th><th>Oldest</th></tr></thead><tbody>
    ${status.payouts.value.byStatus.map((r) => html`<tr><td>${r.status}</td><td class="num">${r.count}</td><td class="num">${BigInt(r.sats).toLocaleString('en-US')}</td><td>${r.oldest ?? '–'}</td></tr>`)}
    </tbody></table>`
  : unavailable(status.payouts.error)}
<h2>Wallets</h2>
${status.wallets.ok
  ? html`<table><thead><tr><th>Wallet</th><th>Name</th><th class="num">Balance (sats)</th><th>Problem</th></tr></thead><tbody>
    ${status.wallets.value.map((w) => html`<tr><td>${w.wallet}</td><td>${w.name ?? '–'}</td><td class="num">${w.balanceSats?.toLocaleString('en-US') ?? '–'}</td><td>${w.error ?? ''}</td></tr>`)}
    </tbody></table>`
  : unavailable(status.wallets.error)}
<h2>Recent operator actions</h2>
<table><thead><tr><th>At</th><th>Who</th><th>Action</th></tr></thead><tbody>
${events.map((e) => html`<tr><td>${e.at}</td><td>${e.actor}</td><td>${e.action}</td></tr>`)}
</tbody></table>`;
    return reply.type('text/html; charset=utf-8').send(page({ title: 'Dashboard', operator: req.operator, csrf, flash: flashOf(req), body }));
  });

  app.post('/alerts/:id/ack', async (req, reply) => {
    const id = z.object({ id: z.string().max(20) }).parse(req.params).id;
    return act(reply, '/', async () => ((await acknowledgeAlert(deps.ctx, id, req.operator)).acknowledged ? `alert ${id} acknowledged` : `alert ${id} was already acknowledged`));
  });
}
