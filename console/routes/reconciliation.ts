/** The reconciliation reports, and "run now": the same reconciliationWorkflow as `satmachine reconcile`. */
import type { FastifyInstance } from 'fastify';
import { recordOperatorEvent } from '../../adapters/ledger/operator-control';
import { runReconciliation } from '../../client/commands/checks';
import { recentReconciliationReports } from '../../client/console-views';
import { html } from '../html';
import { page } from '../layout';
import { act, type ConsoleDeps, flashOf } from '../forms';

/** The console waits this long for a manual run (the worker does the work; a missing worker is an error). */
const RUN_TIMEOUT_SECONDS = 300;

export function registerReconciliationPages(app: FastifyInstance, deps: ConsoleDeps): void {
  app.get('/reconciliation', async (req, reply) => {
    const reports = await recentReconciliationReports(deps.ctx.pool(), 10);
    const latest = reports[0];
    const csrf = reply.generateCsrf();
    const body = html`
<form method="post" action="/reconciliation" class="box"><input type="hidden" name="_csrf" value="${csrf}">
  <span>Compares the ledger, the client balances, the commission and the LNbits wallets.</span><button>Run reconciliation now</button>
</form>
<h2>Latest report</h2>
${latest
  ? html`<p>Report ${latest.id}, started ${latest.startedAt}, ${latest.finishedAt ? `finished ${latest.finishedAt}` : 'not finished'}: <strong data-testid="findings">${latest.findings.length} finding(s)</strong></p>
    ${latest.findings.length
      ? html`<table><thead><tr><th>Severity</th><th>Kind</th><th>Subject</th><th>Message</th></tr></thead><tbody>
        ${latest.findings.map((f) => html`<tr><td>${f.severity}</td><td>${f.kind}</td><td class="mono">${f.subject ?? ''}</td><td>${f.message}</td></tr>`)}</tbody></table>`
      : html`<p class="flash ok">No findings: ledger, balances, commission and wallets reconcile.</p>`}`
  : html`<p class="muted">No reconciliation has run yet.</p>`}
<h2>Earlier reports</h2>
<table><thead><tr><th>Report</th><th>Started</th><th>Finished</th><th class="num">Findings</th></tr></thead><tbody>
${reports.map((r) => html`<tr><td>${r.id}</td><td>${r.startedAt}</td><td>${r.finishedAt ?? '–'}</td><td class="num">${r.findings.length}</td></tr>`)}
</tbody></table>`;
    return reply.type('text/html; charset=utf-8').send(page({ title: 'Reconciliation', operator: req.operator, csrf, flash: flashOf(req), body }));
  });

  app.post('/reconciliation', (req, reply) =>
    act(reply, '/reconciliation', async () => {
      const { report } = await runReconciliation(deps.ctx, { timeoutSeconds: RUN_TIMEOUT_SECONDS });
      const total = Object.values(report.counts).reduce((s, n) => s + n, 0);
      await recordOperatorEvent(deps.ctx.pool(), req.operator, 'reconciliation-run', { reportId: report.reportId, findings: total });
      return `reconciliation report ${report.reportId}: ${total} finding(s)`;
    }),
  );
}
