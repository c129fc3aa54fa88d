/**
 * The versioning safety net: every history recorded by a release (test/histories/<release>/*.json, written by
 * scripts/record-histories.ts; open workflows as partial histories) replays against the CURRENT workflow code
 * without a nondeterminism error. A change to a workflow's command sequence that is not behind patched()
 * fails here, naming the file: running cash-outs would be stuck after the upgrade.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { Worker } from '@temporalio/worker';
import { createLogger } from '../log/logger';
import { installRuntime } from '../worker/runtime';
import { getStack } from './support/stack';

installRuntime(createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'replay' }));

const historiesDir = path.join(__dirname, 'histories');

interface Index {
  histories: Record<string, { workflowId: string; workflowType: string; open: boolean }>;
}

/** Every history file under test/histories/, as `<release>/<file>`, with the workflow id its index names. */
function storedHistories(): Array<{ file: string; workflowId: string }> {
  return readdirSync(historiesDir)
    .filter((release) => statSync(path.join(historiesDir, release)).isDirectory())
    .sort()
    .flatMap((release) => {
      const dir = path.join(historiesDir, release);
      const index = JSON.parse(readFileSync(path.join(dir, 'index.json'), 'utf8')) as Index;
      return readdirSync(dir)
        .filter((f) => f.endsWith('.json') && f !== 'index.json')
        .sort()
        .map((f) => ({ file: `${release}/${f}`, workflowId: index.histories[f]?.workflowId ?? f }));
    });
}

test('every stored workflow history replays against the current workflow code', async (t) => {
  const stored = storedHistories();
  assert.ok(stored.some((s) => s.file.includes('cashout-needs-attention-open')), 'a cash-out waiting for the operator is stored');
  assert.ok(stored.some((s) => s.file.includes('cashout-mid-transfer-open')), 'a cash-out mid-transfer is stored');
  // One replay per file (not the batch API): a history that does not even load is reported with its file too.
  // The run's bundle of the current code when test/run.ts built one (fast); else bundled here.
  const bundle = process.env.SATMACHINE_TEST_STACK ? (getStack() as { workflowBundlePath?: string }).workflowBundlePath : undefined;
  const source = bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath: require.resolve('../workflows') };
  const failures: string[] = [];
  const byWorkflowId = new Map<string, string>();
  const histories = stored.map(({ file, workflowId }) => {
    // Ids are unique per file so that a failure names its file.
    const id = `${workflowId}#${file}`;
    byWorkflowId.set(id, file);
    return { workflowId: id, history: historyFromJSON(JSON.parse(readFileSync(path.join(historiesDir, file), 'utf8'))) };
  });
  let replayed = 0;
  for await (const r of Worker.runReplayHistories(source, histories)) {
    replayed++;
    // Core's message names the mismatch ("[TMPRL1100] Nondeterminism error: Activity type of scheduled event …").
    if (r.error) failures.push(`${byWorkflowId.get(r.workflowId)}: ${r.error.name}: ${/\[TMPRL\d+\][^"]*/.exec(r.error.message)?.[0] ?? r.error.message}`);
  }
  assert.equal(replayed, stored.length);
  t.diagnostic(`replayed ${replayed} histories from ${new Set(stored.map((s) => s.file.split('/')[0])).size} release(s)`);
  if (failures.length) assert.fail(`${failures.length} stored histories no longer replay (a workflow change not behind patched()):\n${failures.join('\n')}`);
});
