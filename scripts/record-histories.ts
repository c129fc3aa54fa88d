/**
 * Records the histories of every workflow type in its interesting states with the CURRENT workflow code,
 * into test/histories/<release>/, on a private real stack (or the one SATMACHINE_TEST_STACK names).
 * Each release adds its own directory; test/workflow-replay.test.ts replays all of them against the code.
 *
 *   npx tsx scripts/record-histories.ts [release-name]     (default v<package version>-<short commit>)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from '../config/load';
import { startStack } from '../test/support/stack-up';
import { testClient } from '../test/support/temporal-client';
import { recordCashOuts } from './histories/cashout';
import { recordPoller } from './histories/poller';
import { HistoryRecording } from './histories/recording';
import { recordScheduled } from './histories/scheduled';

function defaultRelease(): string {
  const { version } = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string };
  const commit = execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], { cwd: repoRoot, encoding: 'utf8' }).trim();
  return `v${version}-${commit}`;
}

async function main(): Promise<void> {
  const release = process.argv[2] ?? defaultRelease();
  if (!/^[\w.-]+$/.test(release)) throw new Error(`release: expected letters, digits, ".", "-" or "_", got "${release}"`);
  const stack = process.env.SATMACHINE_TEST_STACK ? undefined : await startStack();
  const { client, close } = await testClient();
  try {
    const rec = new HistoryRecording(path.join(repoRoot, 'test', 'histories', release), client);
    await recordCashOuts(rec);
    await recordPoller(rec, client);
    await recordScheduled(rec, client);
    rec.writeIndex(release);
    console.log(`[record] ${Object.keys(rec.entries).length} histories in test/histories/${release}/`);
  } finally {
    await close();
    await stack?.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[record] failed:', err);
    process.exit(1);
  },
);
