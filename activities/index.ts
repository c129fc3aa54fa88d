import type { ActivityDeps } from './deps';

/**
 * All activities, built from their dependencies (samples-typescript style). Workflows import only
 * the *type* `Activities`, never this module's code.
 */
export function createActivities(deps: ActivityDeps) {
  void deps;
  return {};
}

export type Activities = ReturnType<typeof createActivities>;
export type { ActivityDeps };
