/**
 * Histories of the scheduled workflows and the ping on the real stack: reconciliation mid-run (its LNbits
 * part held in flight) and completed; health all-healthy and with a rejected key (pauses the poller);
 * the stuck-payout sweep finding a stuck payout; ping.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@temporalio/client';
import { createHealth } from '../../activities/health';
import { createLamassuIngestion } from '../../activities/lamassu';
import { createReconcileActivities } from '../../activities/reconcile';
import { createSweepActivities } from '../../activities/sweep';
import { releaseTransactionPayouts } from '../../adapters/ledger';
import { ensurePollerStarted, getPollerStatus } from '../../client/poller';
import { loadConfig, type Config } from '../../config';
import { createLogger } from '../../log/logger';
import { healthWorkflow, pingWorkflow, reconciliationWorkflow, stuckPayoutSweepWorkflow } from '../../workflows';
import { createLamassuDatabase } from '../../test/support/lamassu-db';
import { createLedgerDatabase } from '../../test/support/ledger-db';
import { createPaidLedger, paidCashOut } from '../../test/support/paid-ledger';
import { getStack } from '../../test/support/stack';
import { startTestWorker, uniqueTaskQueue } from '../../test/support/temporal-client';
import { HistoryRecording, retrying, scheduled, until } from './recording';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'record' });
const uid = (prefix: string) => `${prefix}-record-${randomBytes(4).toString('hex')}`;

export async function recordScheduled(rec: HistoryRecording, client: Client): Promise<void> {
  const stack = getStack();
  const db = await createLedgerDatabase('record_sched');
  const lamassu = await createLamassuDatabase('record_lamassu');
  const stops: Array<() => Promise<void>> = [];
  const pollerWorkflowId = uid('poller-health');
  try {
    const ledger = await retrying(() => createPaidLedger(db.pool, 2));
    await paidCashOut(ledger);
    const configFor = (taskQueue: string, over: { commissionInvoiceKey?: string } = {}): Config =>
      loadConfig({
        env: {},
        file: null,
        overrides: {
          databaseUrl: db.url,
          temporal: { address: stack.temporal.address, namespace: stack.temporal.namespace, taskQueue },
          lnbits: { url: stack.lnbits.url, source: { adminKey: ledger.source.adminKey }, commission: { invoiceKey: over.commissionInvoiceKey ?? ledger.commission.invoiceKey } },
          lamassu: { mode: 'direct', databaseUrl: lamassu.url, fiatCode: 'GTQ' },
        },
      });
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const startWorker = async (config: Config, holdLnbitsPart = false) => {
      const deps = { config, pool: db.pool, log };
      const health = createHealth(deps, { temporalClient: client });
      const ingestion = createLamassuIngestion(deps, { temporalClient: client });
      const reconcile = createReconcileActivities(deps);
      const activities = {
        ...health.activities, ...ingestion.activities, ...reconcile, ...createSweepActivities(deps),
        // Held until the mid-run history is saved: the reconciliation is caught inside its LNbits part.
        reconcileLnbitsPart: async (...args: Parameters<typeof reconcile.reconcileLnbitsPart>) => {
          if (holdLnbitsPart) await held;
          return reconcile.reconcileLnbitsPart(...args);
        },
      };
      const w = await startTestWorker({ taskQueue: config.temporal.taskQueue, activities });
      stops.push(async () => {
        await w.stop();
        await health.close();
        await ingestion.close();
      });
    };

    const queue = uniqueTaskQueue('record-sched');
    const config = configFor(queue);
    await startWorker(config, true);

    const reconcileId = uid('reconcile');
    await client.workflow.start(reconciliationWorkflow, { taskQueue: queue, workflowId: reconcileId, args: [{ lnbits: 'all' }] });
    await until('the LNbits part in flight', () => scheduled(client, reconcileId, 'reconcileLnbitsPart'));
    await rec.save('reconcile-mid-run-open', 'ledger part done, LNbits part in flight', reconcileId);
    release();
    await client.workflow.getHandle(reconcileId).result();
    await rec.save('reconcile-completed', 'a full reconciliation', reconcileId);

    await ensurePollerStarted(client, config, { workflowId: pollerWorkflowId });
    await until('a successful poll', async () => ((await getPollerStatus(client, { workflowId: pollerWorkflowId })).lastSuccessAt ? true : undefined));
    const healthOk = uid('health');
    await client.workflow.execute(healthWorkflow, { taskQueue: queue, workflowId: healthOk, args: [{ pollerWorkflowId }] });
    await rec.save('health-ok', 'all healthy', healthOk);

    const stuck = await paidCashOut(ledger, {}, { pay: false });
    await db.pool.query(`UPDATE satoshimachine.payments SET created_at = now() - interval '3 hours' WHERE transaction_id = $1`, [stuck.tx.id]);
    const sweepId = uid('sweep');
    await client.workflow.execute(stuckPayoutSweepWorkflow, { taskQueue: queue, workflowId: sweepId });
    await rec.save('sweep-stuck-payout', 'one payout stuck for 3 hours', sweepId);

    const badQueue = uniqueTaskQueue('record-health-bad');
    await startWorker(configFor(badQueue, { commissionInvoiceKey: randomBytes(16).toString('hex') }));
    const healthBad = uid('health');
    await client.workflow.execute(healthWorkflow, { taskQueue: badQueue, workflowId: healthBad, args: [{ pollerWorkflowId }] });
    await rec.save('health-key-rejected', 'a rejected LNbits key and a stuck payout: alerts, poller paused', healthBad);
    await releaseTransactionPayouts(db.pool, stuck.tx.id, 'recording over');

    const pingId = uid('ping');
    await client.workflow.execute(pingWorkflow, { taskQueue: queue, workflowId: pingId, args: ['recorder'] });
    await rec.save('ping', 'liveness probe', pingId);
  } finally {
    await client.workflow.getHandle(pollerWorkflowId).terminate('recording over').catch(() => undefined);
    for (const stop of stops.reverse()) await stop();
    await lamassu.drop();
    await db.drop();
  }
}
