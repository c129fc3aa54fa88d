/**
 * Where recorded histories go: one JSON file per workflow state (the proto JSON the Temporal CLI and
 * `historyFromJSON` read) and an index.json naming, per file, the workflow id, type and whether the
 * workflow was still open when recorded (a partial history: what a running workflow replays on upgrade).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';

export interface HistoryEntry {
  workflowId: string;
  workflowType: string;
  open: boolean;
  events: number;
  state: string;
}

export class HistoryRecording {
  readonly entries: Record<string, HistoryEntry> = {};

  constructor(readonly dir: string, readonly client: Client) {
    mkdirSync(dir, { recursive: true });
  }

  /** Saves the workflow's history as it is now (open: partial) as `<name>.json`. */
  async save(name: string, state: string, workflowId: string, runId?: string): Promise<void> {
    const handle = this.client.workflow.getHandle(workflowId, runId);
    const history = await handle.fetchHistory();
    const first = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const last = history.events?.[history.events.length - 1];
    const closed = !!(last?.workflowExecutionCompletedEventAttributes ?? last?.workflowExecutionContinuedAsNewEventAttributes
      ?? last?.workflowExecutionFailedEventAttributes ?? last?.workflowExecutionCanceledEventAttributes
      ?? last?.workflowExecutionTerminatedEventAttributes ?? last?.workflowExecutionTimedOutEventAttributes);
    writeFileSync(path.join(this.dir, `${name}.json`), `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 1)}\n`);
    this.entries[`${name}.json`] = { workflowId, workflowType: first?.workflowType?.name ?? 'unknown', open: !closed, events: history.events?.length ?? 0, state };
    console.log(`[record] ${name}.json: ${history.events?.length ?? 0} events${closed ? '' : ' (open)'}`);
  }

  writeIndex(release: string): void {
    const sorted = Object.fromEntries(Object.entries(this.entries).sort(([a], [b]) => a.localeCompare(b)));
    writeFileSync(path.join(this.dir, 'index.json'), `${JSON.stringify({ release, histories: sorted }, null, 2)}\n`);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined), or fails naming `what`. */
export async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** True once the workflow's history has scheduled an activity of this type `count` times. */
export async function scheduled(client: Client, workflowId: string, activityType: string, count = 1): Promise<true | undefined> {
  const history = await client.workflow.getHandle(workflowId).fetchHistory();
  const n = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).length;
  return n >= count ? true : undefined;
}

/** LNbits (SQLite) answers 500 now and then while accounts are created: try again a few times. */
export async function retrying<T>(fn: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !/HTTP 5\d\d/.test((err as Error).message)) throw err;
      await sleep(300 * attempt);
    }
  }
}
