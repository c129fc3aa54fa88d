/**
 * Clients: find by name, add (the invoice key verified with LNbits, like `satmachine clients add`), pause,
 * close or reactivate (`clients set-status`), and issue or revoke the statement link (`clients statement-link`).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CLIENT_MODES, CLIENT_STATUSES, listClients } from '../../adapters/ledger';
import { activeStatementLink } from '../../adapters/ledger/statement-links';
import { formatFiat } from '../../client/args';
import { addVerifiedClient, changeClientStatus, newStatementLink, revokeStatementLink } from '../../client/client-actions';
import { toCliError } from '../../client/context';
import { html } from '../html';
import { page } from '../layout';
import { act, type ConsoleDeps, flashOf, optionalText, parseForm, uuidParam } from '../forms';

const addForm = z.object({
  name: z.string().trim().min(1, 'required').max(200),
  walletId: z.string().trim().min(1, 'required').max(200),
  invoiceKey: z.string().trim().regex(/^[\x21-\x7e]{1,200}$/, 'expected the LNbits invoice key'),
  mode: z.enum(CLIENT_MODES).default('flow'),
});
const statusForm = z.object({ status: z.enum(CLIENT_STATUSES), reason: optionalText(500) });

export function registerClientPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/clients', async (req, reply) => {
    const q = z.object({ q: z.string().max(200).optional() }).safeParse(req.query).data?.q?.trim() ?? '';
    const pool = deps.ctx.pool();
    const all = await listClients(pool);
    const rows = q ? all.filter((c) => c.name.toLowerCase().includes(q.toLowerCase())) : all;
    const links = new Map(await Promise.all(rows.map(async (c) => [c.id, await activeStatementLink(pool, c.id)] as const)));
    const d = deps.config.lamassu.fiatDecimals;
    const csrf = reply.generateCsrf();
    const hidden = html`<input type="hidden" name="_csrf" value="${csrf}">`;
    const body = html`
<form method="get" action="/clients" class="box"><label>Find by name <input name="q" value="${q}"></label><button class="secondary">Find</button></form>
<table data-testid="clients"><thead><tr><th>Name</th><th>Wallet</th><th>Status</th><th>Mode</th><th class="num">Balance</th><th>Statement link</th><th>Change status</th></tr></thead><tbody>
${rows.map((c) => {
  const link = links.get(c.id);
  return html`<tr data-client="${c.name}"><td>${c.name}<div class="muted mono">${c.id}</div></td><td class="mono">${c.walletId}</td><td>${c.status}</td><td>${c.mode}</td>
  <td class="num">${formatFiat(c.balance, d)} ${c.currency}</td>
  <td>${link ? html`<span class="muted">since ${link.createdAt.slice(0, 10)}</span>` : html`<span class="muted">none</span>`}
    <form method="post" action="/clients/${c.id}/statement-link" class="inline">${hidden}<button class="secondary">${link ? 'New link' : 'Create link'}</button></form>
    ${link ? html`<form method="post" action="/clients/${c.id}/statement-link/revoke" class="inline">${hidden}<button class="danger">Revoke</button></form>` : ''}</td>
  <td><form method="post" action="/clients/${c.id}/status" class="inline">${hidden}
    <select name="status" aria-label="new status">${CLIENT_STATUSES.filter((s) => s !== c.status).map((s) => html`<option value="${s}">${s}</option>`)}</select>
    <input name="reason" placeholder="reason" aria-label="reason"> <button>Set</button></form></td></tr>`;
})}
</tbody></table>
${rows.length ? '' : html`<p class="muted">${q ? 'No client matches.' : 'No clients yet.'}</p>`}
<h2>Add a client</h2>
<p class="muted">The client's LNbits invoice key is checked with LNbits (it must be an invoice key of that wallet) and stored encrypted.</p>
<form method="post" action="/clients" class="box" autocomplete="off">${hidden}
  <label>Name <input name="name" required></label>
  <label>LNbits wallet id <input name="walletId" required></label>
  <label>Invoice key <input name="invoiceKey" type="password" required></label>
  <label>Mode <select name="mode">${CLIENT_MODES.map((m) => html`<option>${m}</option>`)}</select></label>
  <button>Add client</button>
</form>`;
    return reply.type('text/html; charset=utf-8').send(page({ title: 'Clients', operator: req.operator, csrf, flash: flashOf(req), body }));
  });

  app.post('/clients', (req, reply) =>
    act(reply, '/clients', async () => {
      const f = parseForm(addForm, req.body);
      const { client, keyCheck } = await addVerifiedClient(deps.ctx, f, req.operator);
      return `client ${client.name} added (${client.currency}, ${client.mode}); invoice key verified: ${keyCheck}`;
    }),
  );

  app.post('/clients/:id/status', (req, reply) =>
    act(reply, '/clients', async () => {
      const { id } = parseForm(uuidParam, req.params);
      const f = parseForm(statusForm, req.body);
      const { before, after } = await changeClientStatus(deps.ctx, id, f.status, f.reason, req.operator);
      return `${after.name}: ${before.status} → ${after.status}`;
    }),
  );

  // The new link is shown in the answer itself (never in a redirect URL, which browsers keep in their history).
  app.post('/clients/:id/statement-link', async (req, reply) => {
    let body;
    try {
      const { id } = parseForm(uuidParam, req.params);
      const r = await newStatementLink(deps.ctx, id, req.operator, deps.baseUrl());
      body = html`<p>Statement link for <strong>${r.client.name}</strong>${r.revokedPrevious ? ' (the previous link no longer works)' : ''}. It is shown only now: send it to the client.</p>
<p class="mono" data-testid="statement-url"><a href="${r.url}">${r.url}</a></p><p><a href="/clients">Back to clients</a></p>`;
    } catch (err) {
      return reply.redirect(`/clients?err=${encodeURIComponent(toCliError(err).message)}`, 303);
    }
    return reply.type('text/html; charset=utf-8').send(page({ title: 'Statement link', operator: req.operator, csrf: reply.generateCsrf(), body }));
  });

  app.post('/clients/:id/statement-link/revoke', (req, reply) =>
    act(reply, '/clients', async () => {
      const { id } = parseForm(uuidParam, req.params);
      const r = await revokeStatementLink(deps.ctx, id, req.operator);
      return `${r.client.name}: ${r.revoked} statement link(s) revoked`;
    }),
  );
}
