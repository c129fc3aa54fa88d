import type { ActivityDeps } from './deps';
import { createCashOutActivities } from './cashout';
import { createLamassuActivities } from './lamassu';
import { createReconcileActivities } from './reconcile';
import { createHealthActivities } from './health';
import { createSweepActivities } from './sweep';

/**
 * All activities, built from their dependencies (samples-typescript style). Workflows import only
 * the *type* `Activities`, never this module's code.
 */
export function createActivities(deps: ActivityDeps) {
  void deps;
  return {
    ...createLamassuActivities(deps),
    ...createCashOutActivities(deps),
    ...createReconcileActivities(deps),
    ...createHealthActivities(deps),
    ...createSweepActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
