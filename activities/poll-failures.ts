/**
 * The poller's own outage alarm (issue 13). Every Lamassu fetch attempt records its outcome: a failure starts
 * or extends the failing period; once it has lasted config.alerts.pollFailureAlertSeconds (default 3 min),
 * `poll-failing` is raised (deduplicated by cause); the next successful fetch ends the period and resolves it.
 * Detection no longer waits for the 2-hourly health check.
 */
import { raiseAlert, resolveAlerts, severityFor } from '../adapters/alerts';
import type { ActivityDeps } from './deps';

const DEDUP_KEY = 'poll-failing:lamassu';
const errText = (err: unknown) => (err instanceof Error ? err.message : String(err));
/** The class of cause: the error's name (HostKeyMismatchError, …) or a connection error code. */
const causeOf = (err: unknown) => (err instanceof Error ? ((err as { code?: string }).code ?? err.name) : 'error');

export function createPollFailureTracker(deps: ActivityDeps) {
  const { pool, config, log } = deps;
  return {
    async succeeded(): Promise<void> {
      const { rows } = await pool.query<{ was: boolean }>(
        `UPDATE satoshimachine.poll_failures p SET failing_since = NULL, consecutive_failures = 0, last_error = NULL,
                last_success_at = now(), updated_at = now()
           FROM (SELECT failing_since IS NOT NULL AS was FROM satoshimachine.poll_failures) old
          RETURNING old.was`,
      );
      if (rows[0]?.was) await resolveAlerts(deps, { dedupKeyLike: DEDUP_KEY }, 'satmachine', 'Lamassu poll succeeded again');
    },

    /** Records the failure and alerts when the outage is long enough; never throws (the caller rethrows `err`). */
    async failed(err: unknown): Promise<void> {
      try {
        const { rows } = await pool.query<{ since: Date; n: number; last_success_at: Date | null }>(
          `UPDATE satoshimachine.poll_failures SET failing_since = COALESCE(failing_since, now()),
                  consecutive_failures = consecutive_failures + 1, last_error = left($1, 500), updated_at = now()
           RETURNING failing_since AS since, consecutive_failures AS n, last_success_at`,
          [errText(err)],
        );
        const r = rows[0];
        if (!r) return;
        const seconds = Math.floor((Date.now() - r.since.getTime()) / 1000);
        if (seconds < config.alerts.pollFailureAlertSeconds) return;
        await raiseAlert(deps, {
          severity: severityFor(config, 'poll-failing'),
          kind: 'poll-failing',
          dedupKey: DEDUP_KEY,
          cause: causeOf(err),
          message: `Lamassu polls failing for ${seconds} s (${r.n} failed attempt(s), last success ${r.last_success_at?.toISOString() ?? 'never'}): ${errText(err)} — runbook scenario 2`,
          details: { failingSince: r.since.toISOString(), failedAttempts: r.n, lastSuccessAt: r.last_success_at?.toISOString() ?? null, error: errText(err) },
        });
      } catch (e) {
        log.error({ err: errText(e), pollError: errText(err) }, 'could not record the failed Lamassu poll');
      }
    },
  };
}
