/**
 * The Lamassu poller: one long-running workflow per namespace (id `lamassu-poller`). Each poll runs the
 * readiness check, fetches new qualifying cash-outs, and starts one cash-out workflow per row under its
 * deterministic id. Between polls it sleeps for the interval, woken early by `pollNow`. `pause` stops new
 * cash-outs from starting (running ones finish); `resume` undoes it. It continues-as-new to keep its
 * history short, carrying its state. Its inputs and outputs hold settings and ids, never a key.
 */
import {
  ApplicationFailure,
  ActivityFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ActivityOptions } from '@temporalio/workflow';
import type { LamassuActivities } from '../activities/lamassu';
import { BUSINESS_ERROR_TYPES } from '../domain/errors';
import type { LamassuCashOut } from '../domain/lamassu-row';
import { SatmachineKind } from '../domain/search-attributes';

export interface PauseInput {
  reason?: string;
  by?: string;
}

export const pauseSignal = defineSignal<[PauseInput?]>('pause');
export const resumeSignal = defineSignal<[{ by?: string }?]>('resume');
/** `limit`: start at most N cash-outs in this poll — and poll even while paused (gradual restart: one first). */
export const pollNowSignal = defineSignal<[{ limit?: number }?]>('pollNow');
export const statusQuery = defineQuery<PollerStatus>('status');

export interface PollerCounts {
  polls: number;
  started: number;
  skipped: number;
  rejected: number;
}

/** State that survives continue-as-new. */
export interface PollerState {
  paused: boolean;
  pausedReason: string | null;
  pausedBy: string | null;
  pausedAt: string | null;
  ready: boolean | null;
  notReadyReason: string | null;
  lastPollAt: string | null;
  /** Workflow time of the last poll that fetched and handled every new row. */
  lastSuccessAt: string | null;
  /** Lamassu's clock at that poll: the next window starts lookbackHours before it (see reader.ts). */
  lastCompletePollDbTime: string | null;
  lastError: string | null;
  lastErrorAt: string | null;
  lastPoll: { fetched: number; known: number; new: number; started: number; skipped: number; failed: number; rejected: number } | null;
  counts: PollerCounts;
  pollRequested: boolean;
  /** Start limit of the requested poll (pollNow with limit), null for a normal poll. */
  pollLimit: number | null;
}

export interface PollerStatus extends PollerState {
  workflowId: string;
  runId: string;
  pollsThisRun: number;
  pollIntervalSeconds: number;
}

export interface PollerInput {
  pollIntervalSeconds: number;
  /** Continue-as-new after this many polls (or earlier when Temporal suggests it). */
  pollsPerRun: number;
  state?: PollerState;
}

const initialState = (): PollerState => ({
  paused: false,
  pausedReason: null,
  pausedBy: null,
  pausedAt: null,
  ready: null,
  notReadyReason: null,
  lastPollAt: null,
  lastSuccessAt: null,
  lastCompletePollDbTime: null,
  lastError: null,
  lastErrorAt: null,
  lastPoll: null,
  counts: { polls: 0, started: 0, skipped: 0, rejected: 0 },
  pollRequested: false,
  pollLimit: null,
});

const readinessOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 3 },
};
// Link failures are retried with backoff; after the last attempt the poller records the error and tries
// again at the next poll (so `status` shows it). A wrong host key will not fix itself: no retries.
const fetchOptions: ActivityOptions = {
  startToCloseTimeout: '2 minutes',
  retry: {
    initialInterval: '2 seconds',
    backoffCoefficient: 2,
    maximumInterval: '1 minute',
    maximumAttempts: 5,
    nonRetryableErrorTypes: ['HostKeyMismatchError', ...BUSINESS_ERROR_TYPES],
  },
};
const startOptions: ActivityOptions = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds', maximumAttempts: 5 },
};

/**
 * The poll's activities heartbeat (activities/lamassu.ts): with a heartbeatTimeout, an attempt whose worker
 * died (SIGKILL, OOM, a redeploy) is retried on another worker after seconds. Without it the poller waited for
 * the startToCloseTimeout — up to 2 minutes per killed poll, and no cash-out was ingested meanwhile. Histories
 * from before this patch replay with the options they were scheduled with.
 */
export const POLLER_HEARTBEAT_PATCH = 'poller-activity-heartbeat';
const POLL_HEARTBEAT: ActivityOptions = { heartbeatTimeout: '10 seconds' };
// Proxies take their options when created: one set per option set, picked per call.
const before = {
  checkPollerReadiness: proxyActivities<LamassuActivities>(readinessOptions).checkPollerReadiness,
  fetchNewCashOuts: proxyActivities<LamassuActivities>(fetchOptions).fetchNewCashOuts,
  startCashOutWorkflows: proxyActivities<LamassuActivities>(startOptions).startCashOutWorkflows,
};
const heartbeating = {
  checkPollerReadiness: proxyActivities<LamassuActivities>({ ...readinessOptions, ...POLL_HEARTBEAT }).checkPollerReadiness,
  fetchNewCashOuts: proxyActivities<LamassuActivities>({ ...fetchOptions, ...POLL_HEARTBEAT }).fetchNewCashOuts,
  startCashOutWorkflows: proxyActivities<LamassuActivities>({ ...startOptions, ...POLL_HEARTBEAT }).startCashOutWorkflows,
};
const pollActivities = () => (patched(POLLER_HEARTBEAT_PATCH) ? heartbeating : before);

/** Rows per start activity: pause is honoured between batches. */
const START_BATCH = 25;

const describe = (err: unknown): string => {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const name = cause instanceof ApplicationFailure && cause.type ? `${cause.type}: ` : '';
  return `${name}${cause instanceof Error ? cause.message : String(cause)}`;
};

export async function lamassuPollerWorkflow(input: PollerInput): Promise<void> {
  const state: PollerState = { ...initialState(), ...input.state };
  const now = () => new Date(Date.now()).toISOString();
  let pollsThisRun = 0;

  setHandler(pauseSignal, (p) => {
    state.paused = true;
    state.pausedReason = p?.reason ?? null;
    state.pausedBy = p?.by ?? null;
    state.pausedAt = now();
  });
  setHandler(resumeSignal, () => {
    if (!state.paused) return;
    Object.assign(state, { paused: false, pausedReason: null, pausedBy: null, pausedAt: null, pollRequested: true });
  });
  setHandler(pollNowSignal, (p) => {
    const limit = p?.limit;
    // A malformed limit must not turn into "start everything": ignore the request instead.
    if (limit !== undefined && !(Number.isSafeInteger(limit) && limit > 0)) return void log.warn('pollNow ignored: limit must be a positive integer', { limit });
    state.pollRequested = true;
    state.pollLimit = limit ?? null;
  });
  setHandler(statusQuery, () => ({
    ...state,
    workflowId: workflowInfo().workflowId,
    runId: workflowInfo().runId,
    pollsThisRun,
    pollIntervalSeconds: input.pollIntervalSeconds,
  }));
  upsertSearchAttributes([{ key: SatmachineKind, value: 'poller' }]);

  const failed = (err: unknown) => {
    state.lastError = describe(err);
    state.lastErrorAt = now();
    log.warn('lamassu poll failed', { error: state.lastError });
  };

  async function poll(limit: number | null): Promise<void> {
    state.lastPollAt = now();
    const readiness = await pollActivities().checkPollerReadiness().catch((err: unknown) => ({ ready: false, reason: `readiness check failed: ${describe(err)}` }));
    state.ready = readiness.ready;
    state.notReadyReason = readiness.reason;
    if (!readiness.ready) return;

    let fetched;
    try {
      fetched = await pollActivities().fetchNewCashOuts({ lastCompletePollAt: state.lastCompletePollDbTime });
    } catch (err) {
      return failed(err);
    }
    const summary = { fetched: fetched.fetched, known: fetched.known, new: fetched.rows.length, started: 0, skipped: 0, failed: 0, rejected: fetched.rejectedNew };
    state.lastPoll = summary;
    state.counts.rejected += fetched.rejectedNew;

    const rows = limit === null ? fetched.rows : fetched.rows.slice(0, limit);
    let complete = !fetched.truncated && rows.length === fetched.rows.length;
    for (let i = 0; i < rows.length; i += START_BATCH) {
      if (state.paused && limit === null) {
        complete = false; // the rest stays unstarted and is fetched again after resume
        break;
      }
      const batch: LamassuCashOut[] = rows.slice(i, i + START_BATCH);
      try {
        const r = await pollActivities().startCashOutWorkflows({ rows: batch });
        summary.started += r.started.length;
        summary.skipped += r.skipped.length;
        summary.failed += r.failed.length;
        state.counts.started += r.started.length;
        state.counts.skipped += r.skipped.length;
        if (r.failed.length) {
          complete = false;
          failed(new Error(`${r.failed.length} cash-out start(s) failed, retried next poll: ${r.failed[0]!.error}`));
        }
      } catch (err) {
        return failed(err);
      }
    }
    if (complete) {
      state.lastSuccessAt = now();
      state.lastCompletePollDbTime = fetched.dbNow;
      state.lastError = null;
      state.lastErrorAt = null;
    }
    // A backlog larger than one fetch: go again at once, as long as this poll made progress.
    if (fetched.truncated && limit === null && summary.started > 0) state.pollRequested = true;
  }

  // A fresh poller polls at once; a continued run waits for its interval like any other poll (unless asked).
  let pollDue = input.state === undefined || state.pollRequested;
  // Paused: only an explicit pollNow with a limit polls (the operator's gradual restart).
  const mayPoll = () => !state.paused || (state.pollRequested && state.pollLimit !== null);
  for (;;) {
    if (pollDue && mayPoll()) {
      const limit = state.pollRequested ? state.pollLimit : null;
      state.pollRequested = false;
      state.pollLimit = null;
      await poll(limit);
      pollsThisRun++;
      state.counts.polls++;
    }
    if (pollsThisRun >= input.pollsPerRun || workflowInfo().continueAsNewSuggested) {
      await condition(allHandlersFinished);
      return continueAsNew<typeof lamassuPollerWorkflow>({ ...input, state });
    }
    const wake = () => (state.pollRequested && mayPoll()) || workflowInfo().continueAsNewSuggested;
    // Paused: wait for resume without a timer; otherwise the interval, or pollNow, whichever comes first.
    if (state.paused) await condition(wake);
    else await condition(wake, input.pollIntervalSeconds * 1000);
    pollDue = true;
  }
}
