/**
 * Lamassu ingestion activities: readiness, fetch (read → validate → reject once → minus known), starting
 * cash-out workflows, and the connection test. The Lamassu connection (ssh2 tunnel + pool) and the Temporal
 * client are built lazily, once per worker, and reused; keys never leave this process.
 */
import { Client, Connection } from '@temporalio/client';
import { raiseAlert } from '../adapters/alerts';
import { createLamassuConnection, type LamassuConnection } from '../adapters/lamassu/connection';
import { testLamassuConnection, type ConnectionTestResult } from '../adapters/lamassu/connection-test';
import { fetchDispensedNotFinal, fetchQualifyingCashOuts, rawRowAsText, type RawCashOutRow } from '../adapters/lamassu/reader';
import { markUnfinishedAlerted, syncUnfinishedRows } from '../adapters/ledger/cashout-checks';
import { effectivePayFrom } from '../adapters/ledger/cutover';
import { knownLamassuIds, markRejectionAlerted, recordRejections, type Rejection } from '../adapters/ledger/lamassu-ingestion';
import { toRawRow, validateLamassuRow, type LamassuCashOut } from '../domain/lamassu-row';
import { startCashOut } from '../client/cashout';
import { runStatus } from '../client/recovery';
import { cashOutWorkflowId } from '../domain/constants';
import type { ActivityDeps } from './deps';
import { createPollFailureTracker } from './poll-failures';
import { checkSystemReady, type ReadinessResult } from './poller-readiness';
import { withHeartbeat } from './heartbeat';
import { temporalConnectOptions } from '../config/temporal-connection';

/** At most this many new rows per fetch result (~0.5 KB each): keeps the poller's history small. */
export const MAX_NEW_ROWS_PER_POLL = 200;

export interface FetchNewCashOutsInput {
  /** Lamassu's time of the last complete poll (widens the window after an outage; see reader.ts). */
  lastCompletePollAt?: string | null;
  maxRows?: number;
}

export interface FetchNewCashOutsResult {
  /** Valid rows the ledger does not know yet, oldest first. */
  rows: LamassuCashOut[];
  /** More new rows were left for the next poll. */
  truncated: boolean;
  /** Qualifying rows in the window / of them already in the ledger / failing validation (first time). */
  fetched: number;
  known: number;
  rejectedNew: number;
  dbNow: string;
  windowStart: string;
}

export interface StartCashOutsResult {
  started: string[];
  /** Already started (or finished) before: nothing was started, nothing can be paid twice. */
  skipped: string[];
  failed: Array<{ id: string; error: string }>;
  /** Rows that can never be started (payload too large, refused by the server, …): recorded rejected, alerted once. */
  rejected?: Array<{ id: string; error: string }>;
}

/** gRPC status codes a retry cannot fix (INVALID_ARGUMENT, PERMISSION_DENIED, FAILED_PRECONDITION, OUT_OF_RANGE). */
const PERMANENT_CODES = new Set([3, 7, 9, 11]);

/** A start error that will happen again for this row whatever we wait: not a link or server hiccup. */
function isPermanentStartError(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    // RESOURCE_EXHAUSTED is a rate limit — or a message over the size limit, which no retry fixes.
    if (code === 8) return /larger than max|size|exceeds/i.test(String((e as Error).message));
    if (typeof code === 'number') return PERMANENT_CODES.has(code);
  }
  // No gRPC status: only an input the payload converter cannot encode is this row's fault; anything else (the
  // ledger, the network) may pass and is tried again at the next poll.
  return err instanceof Error && /PayloadConverterError|ValueError|DataConverterError/.test(err.name);
}

/** "Failed to start Workflow: 8 RESOURCE_EXHAUSTED: …": every message of the cause chain. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) parts.push(e instanceof Error ? e.message : String(e));
  return parts.join(': ');
}

/** Alert text of a raw row: every value cut short (a 3 MB text field must not travel in an alert). */
const shortRaw = (raw: RawCashOutRow) =>
  Object.fromEntries(Object.entries(rawRowAsText(raw)).map(([k, v]) => [k, v !== null && v.length > 200 ? `${v.slice(0, 200)}… (${v.length} chars)` : v]));

export interface LamassuIngestionOptions {
  /** Tests inject their own (to close it); by default built from config.lamassu on first use. */
  lamassu?: LamassuConnection;
  /** Tests inject theirs; by default a connection to config.temporal on first use. */
  temporalClient?: Client;
}

export function createLamassuIngestion(deps: ActivityDeps, opts: LamassuIngestionOptions = {}) {
  const { config, pool, log } = deps;
  let lamassu = opts.lamassu;
  let temporal: Promise<Client> | undefined = opts.temporalClient ? Promise.resolve(opts.temporalClient) : undefined;
  let ownConnection: Connection | undefined;

  const lamassuConnection = () => (lamassu ??= createLamassuConnection(config.lamassu, log));
  const pollFailures = createPollFailureTracker(deps);
  const temporalClient = () =>
    (temporal ??= Connection.connect(temporalConnectOptions(config.temporal))
      .then((connection) => ((ownConnection = connection), new Client({ connection, namespace: config.temporal.namespace })))
      .catch((err: unknown) => {
        temporal = undefined; // try again on the next call
        throw err;
      }));

  /** No ledger row for the Lamassu id, and the latest run of its workflow id is closed. */
  async function restartable(client: Client, lamassuId: string): Promise<boolean> {
    const { rows } = await pool.query(`SELECT 1 FROM satoshimachine.lamassu_transactions WHERE lamassu_id::text = lower($1)`, [lamassuId]);
    if (rows.length > 0) return false;
    const status = await runStatus(client, cashOutWorkflowId(lamassuId));
    return status !== 'RUNNING' && status !== 'NOT_FOUND';
  }

  async function alertRejected(rejections: Rejection[], unalerted: string[]): Promise<void> {
    for (const id of unalerted) {
      const r = rejections.find((x) => x.raw.id === id)!;
      await raiseAlert(deps, {
        severity: 'high',
        kind: 'row-rejected',
        dedupKey: `row-rejected:${id}`,
        message: `Lamassu cash-out ${id} rejected (${r.field}: ${r.reason}); it will not be paid`,
        details: { lamassuId: id, field: r.field, reason: r.reason, raw: shortRaw(r.raw) },
      });
      await markRejectionAlerted(pool, id);
    }
  }

  /**
   * Rows Lamassu counts as dispensed (error IS NULL AND dispense) but still not payable after
   * cashOutChecks.dispensedNotFinalHours: kept in the ledger (listed by `satmachine status`), alerted once.
   */
  async function checkDispensedNotFinal(): Promise<void> {
    const { fiatCode, lookbackHours, payFrom } = config.lamassu;
    const hours = config.cashOutChecks.dispensedNotFinalHours;
    const raws = await fetchDispensedNotFinal(lamassuConnection(), { fiatCode, olderThanHours: hours, withinHours: lookbackHours + hours, payFrom });
    const known = await knownLamassuIds(pool, raws.map((r) => r.id));
    const unfinished = raws.filter((r) => {
      const s = known.get(r.id.toLowerCase());
      return s === undefined || s === 'rejected';
    });
    for (const u of await syncUnfinishedRows(pool, unfinished)) {
      await raiseAlert(deps, {
        severity: 'high',
        kind: 'cashout-dispensed-not-final',
        dedupKey: `cashout-dispensed-not-final:${u.lamassuId}`,
        quietPeriodMinutes: 5_256_000,
        message: `Lamassu cash-out ${u.lamassuId} (${u.cryptoCode}, ${u.fiat} ${u.fiatCode}) dispensed, not final after ${hours} h ` +
          `(status ${u.lamassuStatus}, dispense_confirmed ${String(u.dispenseConfirmed)}): it is not paid until Lamassu confirms it`,
        details: { ...u, hours },
      });
      await markUnfinishedAlerted(pool, u.lamassuId);
    }
  }

  const activities = {
    // The poller's activities heartbeat (workflows/poller.ts schedules them with a heartbeatTimeout): a worker
    // killed during a poll holds the poller for seconds, not for the startToCloseTimeout (minutes).
    async checkPollerReadiness(): Promise<ReadinessResult> {
      return withHeartbeat(() => checkSystemReady(deps));
    },

    /** Throws when Lamassu or the ledger cannot be read: a failure is never an empty result. */
    async fetchNewCashOuts(input: FetchNewCashOutsInput = {}): Promise<FetchNewCashOutsResult> {
      return withHeartbeat(() => fetchNew(input));
    },

    async startCashOutWorkflows(input: { rows: LamassuCashOut[] }): Promise<StartCashOutsResult> {
      return withHeartbeat(() => startCashOuts(input));
    },

    /** The step-by-step Lamassu connection report (no secrets in it). */
    async testLamassuConnection(): Promise<ConnectionTestResult> {
      return testLamassuConnection(config.lamassu);
    },
  };

  /** Throws when Lamassu or the ledger cannot be read: a failure is never an empty result. */
  async function fetchNew(input: FetchNewCashOutsInput): Promise<FetchNewCashOutsResult> {
    const { fiatCode, fiatDecimals, lookbackHours } = config.lamassu;
    // The later of config lamassu.payFrom and the cut-over an import stored in the ledger.
    const payFrom = await effectivePayFrom(pool, config.lamassu.payFrom);
    let read;
    try {
      read = await fetchQualifyingCashOuts(lamassuConnection(), { fiatCode, lookbackHours, payFrom, lastCompletePollAt: input.lastCompletePollAt });
    } catch (err) {
      await pollFailures.failed(err);
      throw err;
    }
    await pollFailures.succeeded().catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not record the successful poll'));
    const known = await knownLamassuIds(pool, read.rows.map((r) => r.id));
    const fresh: LamassuCashOut[] = [];
    const rejections: Rejection[] = [];
    let knownCount = 0;
    for (const raw of read.rows) {
      const ledgerStatus = known.get(raw.id.toLowerCase());
      // Processed (or being processed) already: whatever the row says now, it is not ours to judge again.
      if (ledgerStatus !== undefined && ledgerStatus !== 'rejected') {
        knownCount++;
        continue;
      }
      const v = validateLamassuRow(raw, { fiatCode, fiatDecimals });
      if (!v.ok) rejections.push({ raw, field: v.field, reason: v.reason });
      else if (ledgerStatus === undefined) fresh.push(v.row);
      else knownCount++; // rejected once, valid now: still never paid automatically
    }
    // Idempotent every poll while the row is in the window: records once, alerts until the alert is noted.
    const { recorded, unalerted } = await recordRejections(pool, rejections);
    await alertRejected(rejections, unalerted);
    const max = input.maxRows ?? MAX_NEW_ROWS_PER_POLL;
    const result = {
      rows: fresh.slice(0, max),
      truncated: fresh.length > max,
      fetched: read.rows.length,
      known: knownCount,
      rejectedNew: recorded.length,
      dbNow: read.dbNow,
      windowStart: read.windowStart,
    };
    log.info({ fetched: result.fetched, known: result.known, new: fresh.length, rejectedNew: result.rejectedNew, windowStart: read.windowStart }, 'lamassu poll');
    await checkDispensedNotFinal().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'dispensed-not-final check failed (retried next poll)'));
    return result;
  }

  /**
   * Starts `cashOutWorkflow` for each row under its deterministic id (client/cashout.ts, REJECT_DUPLICATE +
   * FAIL): an id that was ever started (running or closed, within retention) is refused by Temporal and
   * counted 'skipped' — nothing runs twice; past retention the ledger's UNIQUE(lamassu_id) + run id stop it.
   */
  async function startCashOuts(input: { rows: LamassuCashOut[] }): Promise<StartCashOutsResult> {
    const client = await temporalClient();
    const out: StartCashOutsResult = { started: [], skipped: [], failed: [], rejected: [] };
    const rejections: Rejection[] = [];
    for (const row of input.rows) {
      try {
        let outcome = await startCashOut(client, config, row);
        // Started before but never recorded in the ledger, its run closed (terminated before its first task):
        // nothing of it can move money (recording is its first step), so it is started again (issue 19).
        if (outcome === 'already-started' && (await restartable(client, row.id))) {
          outcome = await startCashOut(client, config, row, { restartClosed: true });
          if (outcome === 'started') log.warn({ lamassuId: row.id }, 'cash-out restarted: its earlier run closed before recording it');
        }
        (outcome === 'started' ? out.started : out.skipped).push(row.id);
      } catch (err) {
        const error = causeChain(err).slice(0, 500);
        if (!isPermanentStartError(err)) {
          out.failed.push({ id: row.id, error });
          continue;
        }
        // One bad row never blocks the others: recorded rejected with its reason, alerted once, not retried.
        out.rejected!.push({ id: row.id, error });
        const raw = Object.fromEntries(Object.entries(toRawRow(row)).map(([k, v]) => [k, v === null || v === undefined ? null : String(v)])) as unknown as RawCashOutRow;
        rejections.push({ raw, field: '(workflow start)', reason: `the cash-out workflow could not be started: ${error}` });
      }
    }
    if (rejections.length) {
      const { unalerted } = await recordRejections(pool, rejections);
      await alertRejected(rejections, unalerted);
    }
    // Nothing got through at all (e.g. Temporal unreachable): fail so Temporal retries with backoff.
    if (out.failed.length && !out.started.length && !out.skipped.length && !out.rejected!.length) throw new Error(`starting cash-out workflows failed: ${out.failed[0]!.error}`);
    if (out.started.length || out.skipped.length) log.info({ started: out.started, skipped: out.skipped, failed: out.failed.length }, 'cash-out workflows');
    return out;
  }

  return {
    activities,
    /** The Lamassu connection (built on first use): the cash-out record step re-reads rows through it. */
    lamassuConnection,
    /** Closes what this factory opened itself (tunnel, pool, Temporal connection); injected ones stay open. */
    async close(): Promise<void> {
      if (lamassu && lamassu !== opts.lamassu) await lamassu.close();
      await ownConnection?.close();
    },
  };
}

/** The activities for createActivities(): `...createLamassuActivities(deps)`. */
export function createLamassuActivities(deps: ActivityDeps, opts: LamassuIngestionOptions = {}) {
  return createLamassuIngestion(deps, opts).activities;
}

export type LamassuActivities = ReturnType<typeof createLamassuActivities>;
