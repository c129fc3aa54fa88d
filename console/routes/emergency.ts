/** Emergency stop / resume with a reason: `satmachine emergency stop|resume` (ledger halt + poller pause). */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { getControl } from '../../adapters/ledger/operator-control';
import { emergencyResume, emergencyStop, type EmergencyReport } from '../../client/commands/emergency';
import { html } from '../html';
import { page } from '../layout';
import { act, type ConsoleDeps, flashOf, optionalText, parseForm } from '../forms';

const stopForm = z.object({ reason: z.string().trim().min(1, 'a reason is required').max(500) });
const resumeForm = z.object({ reason: optionalText(500), payoutsOnly: z.literal('on').optional() });

const outcome = (title: string, r: EmergencyReport) => {
  const text = `${title}: payouts ${r.payouts.ok ? 'ok' : 'FAILED'} (${r.payouts.detail}); poller ${r.poller.ok ? 'ok' : 'FAILED'} (${r.poller.detail})`;
  if (!r.payouts.ok || !r.poller.ok) throw new Error(text);
  return text;
};

export function registerEmergencyPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/emergency', async (req, reply) => {
    const control = await getControl(deps.ctx.pool());
    const csrf = reply.generateCsrf();
    const hidden = html`<input type="hidden" name="_csrf" value="${csrf}">`;
    const body = html`
<p data-testid="control">${control.payoutsHalted
  ? html`<span class="badge bad">PAYOUTS HALTED</span> since ${control.haltedAt} by ${control.haltedBy}: ${control.haltedReason}`
  : html`<span class="badge good">payouts running</span>`}</p>
<h2>Emergency stop</h2>
<p class="muted">Halts payouts in the ledger (running cash-outs wait before their next transfer) and pauses the poller (no new cash-outs start).</p>
<form method="post" action="/emergency/stop" class="box">${hidden}
  <label>Reason <input name="reason" required size="50"></label><button class="danger">Emergency stop</button>
</form>
<h2>Resume</h2>
<form method="post" action="/emergency/resume" class="box">${hidden}
  <label>Reason <input name="reason" size="50"></label>
  <label>Payouts only (keep the poller paused) <input type="checkbox" name="payoutsOnly"></label>
  <button>Resume</button>
</form>`;
    return reply.type('text/html; charset=utf-8').send(page({ title: 'Emergency stop', operator: req.operator, csrf, flash: flashOf(req), body }));
  });

  app.post('/emergency/stop', (req, reply) =>
    act(reply, '/emergency', async () => outcome('EMERGENCY STOP', await emergencyStop(deps.ctx, req.operator, parseForm(stopForm, req.body).reason))),
  );

  app.post('/emergency/resume', (req, reply) =>
    act(reply, '/emergency', async () => {
      const f = parseForm(resumeForm, req.body);
      return outcome('RESUMED', await emergencyResume(deps.ctx, req.operator, f.reason, f.payoutsOnly === 'on'));
    }),
  );
}
