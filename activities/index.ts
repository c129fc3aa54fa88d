import type { ActivityDeps } from './deps';
import { createCashOutActivities } from './cashout';
import { createLamassuIngestion } from './lamassu';
import { createReconcileActivities } from './reconcile';
import { createHealthActivities } from './health';
import { createSweepActivities } from './sweep';

/**
 * All activities, built from their dependencies (samples-typescript style). Workflows import only
 * the *type* `Activities`, never this module's code.
 */
export function createWorkerActivities(deps: ActivityDeps) {
  // The ingestion keeps an SSH tunnel and a Temporal client open between polls: closed on shutdown.
  const ingestion = createLamassuIngestion(deps);
  return {
    activities: {
      ...ingestion.activities,
      // The record step re-reads each cash-out from Lamassu through the poller's tunnel.
      ...createCashOutActivities(deps, { lamassu: ingestion.lamassuConnection }),
      ...createReconcileActivities(deps),
      ...createHealthActivities(deps),
      ...createSweepActivities(deps),
    },
    close: () => ingestion.close(),
  };
}

export function createActivities(deps: ActivityDeps) {
  return createWorkerActivities(deps).activities;
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
