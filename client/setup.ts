/**
 * `satmachine setup`: everything a deployment needs besides the worker, idempotent (run it on every deploy):
 * ledger migrations, the custom search attributes (where the server lets a client register them), the three
 * schedules (created, or updated in place when they exist), and the Lamassu poller.
 */
import { Client, Connection, ScheduleAlreadyRunning, type ScheduleOptions, type ScheduleUpdateOptions } from '@temporalio/client';
import type { Config } from '../config/schema';
import { migrateLedger } from '../db/migrate';
import { SCHEDULE_IDS } from '../domain/constants';
import { ALL_SEARCH_ATTRIBUTES, SatmachineKind } from '../domain/search-attributes';
import type { Logger } from '../log/logger';
import { ensurePollerStarted } from './poller';
import { temporalConnectOptions } from '../config/temporal-connection';

export interface SetupOptions {
  /** Reuse a client (tests, the CLI context); otherwise a connection to config.temporal is opened and closed. */
  client?: Client;
  /** Prefixed to every schedule id (tests isolate themselves; production uses the bare SCHEDULE_IDS). */
  scheduleIdPrefix?: string;
  /** The poller's workflow id (default POLLER_WORKFLOW_ID); also passed to the health workflow. */
  pollerWorkflowId?: string;
  startPoller?: boolean;
  migrate?: boolean;
  /** Catch-up window of the schedules (default 10 minutes): a long outage does not replay a backlog. */
  catchupWindow?: string;
}

export type StepOutcome = 'created' | 'updated' | 'unchanged' | 'skipped' | 'started' | 'running' | 'applied';

export interface SetupResult {
  migrations: { outcome: StepOutcome; applied: string[] };
  searchAttributes: { outcome: StepOutcome; added: string[]; present: string[]; detail?: string };
  schedules: Array<{ scheduleId: string; workflowType: string; outcome: StepOutcome; spec: string }>;
  poller: { outcome: StepOutcome; workflowId?: string; runId?: string };
}

/** IndexedValueType numbers of temporal.api.enums.v1 for our search attribute types. */
const INDEXED_VALUE_TYPE: Record<string, number> = { TEXT: 1, KEYWORD: 2, INT: 3, DOUBLE: 4, BOOL: 5, DATETIME: 6, KEYWORD_LIST: 7 };

type Desired = { scheduleId: string; workflowType: string; describe: string; options: Omit<ScheduleOptions, 'scheduleId'> };

/** The schedules. Overlap SKIP: a run still going when the next is due is not doubled. */
export function desiredSchedules(config: Config, opts: SetupOptions = {}): Desired[] {
  const prefix = opts.scheduleIdPrefix ?? '';
  const policies = { overlap: 'SKIP' as const, catchupWindow: opts.catchupWindow ?? '10 minutes' };
  const action = (workflowType: string, kind: string, args: unknown[], workflowId: string) => ({
    type: 'startWorkflow' as const,
    workflowType,
    taskQueue: config.temporal.taskQueue,
    args,
    // Temporal appends the scheduled time to this id, so every run has its own id.
    workflowId,
    typedSearchAttributes: [{ key: SatmachineKind, value: kind }],
  });
  const id = (base: string) => `${prefix}${base}`;
  return [
    {
      scheduleId: id(SCHEDULE_IDS.reconciliation),
      workflowType: 'reconciliationWorkflow',
      describe: 'daily at 00:00 UTC',
      options: {
        spec: { calendars: [{ hour: 0, minute: 0, second: 0, comment: 'runbook: daily reconciliation at 00:00 UTC' }], timezone: 'UTC' },
        action: action('reconciliationWorkflow', 'reconcile', [{}], id('reconciliation')),
        policies,
      },
    },
    {
      scheduleId: id(SCHEDULE_IDS.hourlyReconciliation),
      workflowType: 'reconciliationWorkflow',
      describe: 'hourly at :30 (light: LNbits checks for recent payouts only)',
      options: {
        spec: { calendars: [{ minute: 30, second: 0, hour: '*', comment: 'issue 13: light reconciliation every hour' }], timezone: 'UTC' },
        action: action('reconciliationWorkflow', 'reconcile', [{ lnbits: 'recent' }], id('reconciliation-hourly')),
        policies,
      },
    },
    {
      scheduleId: id(SCHEDULE_IDS.health),
      workflowType: 'healthWorkflow',
      describe: 'every 2 hours',
      options: {
        spec: { intervals: [{ every: '2 hours' }] },
        action: action('healthWorkflow', 'health', [{ pollerWorkflowId: opts.pollerWorkflowId }], id('health')),
        policies,
      },
    },
    {
      scheduleId: id(SCHEDULE_IDS.stuckPayoutSweep),
      workflowType: 'stuckPayoutSweepWorkflow',
      describe: `every ${config.alerts.stuckPayoutMinutes} minutes`,
      options: {
        spec: { intervals: [{ every: `${config.alerts.stuckPayoutMinutes} minutes` }] },
        action: action('stuckPayoutSweepWorkflow', 'sweep', [], id('stuck-payout-sweep')),
        policies,
      },
    },
  ];
}

async function ensureSearchAttributes(connection: Connection, namespace: string): Promise<SetupResult['searchAttributes']> {
  let existing: Record<string, unknown>;
  try {
    existing = (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
  } catch (err) {
    // Temporal Cloud (and restricted servers) do not offer the operator service to clients: register them there.
    return { outcome: 'skipped', added: [], present: [], detail: `cannot list search attributes (${(err as Error).message}); register ${ALL_SEARCH_ATTRIBUTES.map((k) => `${k.name}=${k.type}`).join(', ')} on the server` };
  }
  const present = ALL_SEARCH_ATTRIBUTES.filter((k) => k.name in existing).map((k) => k.name);
  const missing = ALL_SEARCH_ATTRIBUTES.filter((k) => !(k.name in existing));
  if (missing.length === 0) return { outcome: 'unchanged', added: [], present };
  try {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((k) => [k.name, INDEXED_VALUE_TYPE[k.type]!])),
    });
  } catch (err) {
    if (!/already exists/i.test((err as Error).message)) throw err;
  }
  return { outcome: 'created', added: missing.map((k) => k.name), present };
}

async function ensureSchedule(client: Client, d: Desired): Promise<StepOutcome> {
  try {
    await client.schedule.create({ scheduleId: d.scheduleId, ...d.options });
    return 'created';
  } catch (err) {
    if (!(err instanceof ScheduleAlreadyRunning)) throw err;
  }
  // Exists: bring spec, action and policies to what this version wants; keep its paused state and note.
  await client.schedule.getHandle(d.scheduleId).update((previous) => ({ ...(d.options as ScheduleUpdateOptions), state: { paused: previous.state.paused, note: previous.state.note } }));
  return 'updated';
}

export async function runSetup(config: Config, log: Logger, opts: SetupOptions = {}): Promise<SetupResult> {
  const result: SetupResult = {
    migrations: { outcome: 'skipped', applied: [] },
    searchAttributes: { outcome: 'skipped', added: [], present: [] },
    schedules: [],
    poller: { outcome: 'skipped' },
  };
  if (opts.migrate !== false) {
    if (!config.databaseUrl) throw new Error('databaseUrl: required for the ledger migrations (DATABASE_URL)');
    const applied = await migrateLedger(config.databaseUrl, (m) => log.debug(m));
    result.migrations = { outcome: applied.length ? 'applied' : 'unchanged', applied };
  }

  let ownConnection: Connection | undefined;
  const client =
    opts.client ??
    new Client({
      connection: (ownConnection = await Connection.connect(temporalConnectOptions(config.temporal))),
      namespace: config.temporal.namespace,
    });
  try {
    result.searchAttributes =
      client.connection instanceof Connection
        ? await ensureSearchAttributes(client.connection, client.options.namespace)
        : { outcome: 'skipped', added: [], present: [], detail: 'no operator service on this connection' };
    for (const d of desiredSchedules(config, opts)) {
      const outcome = await ensureSchedule(client, d);
      result.schedules.push({ scheduleId: d.scheduleId, workflowType: d.workflowType, outcome, spec: d.describe });
      log.info({ scheduleId: d.scheduleId, outcome }, 'schedule');
    }
    if (opts.startPoller !== false) {
      const p = await ensurePollerStarted(client, config, { workflowId: opts.pollerWorkflowId });
      result.poller = { outcome: p.started ? 'started' : 'running', workflowId: p.workflowId, runId: p.runId };
    }
  } finally {
    await ownConnection?.close();
  }
  return result;
}
