/**
 * The production worker's memory settings (issue 15, P5): one set of Node flags (worker/node-options.ts) used
 * by every way the worker is started in production, and a bounded workflow cache from config.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../config';
import { repoRoot } from '../config/load';
import { WORKER_NODE_OPTIONS } from '../worker/node-options';

test('the production heap cap is the same in package.json start:worker and the systemd unit', () => {
  assert.match(WORKER_NODE_OPTIONS, /^--max-old-space-size=\d+ --max-semi-space-size=\d+$/);
  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts['start:worker'], `node ${WORKER_NODE_OPTIONS} dist/worker/main.js`);
  const unit = readFileSync(path.join(repoRoot, 'deploy', 'satmachine-worker.service'), 'utf8');
  assert.ok(unit.includes(`Environment=NODE_OPTIONS="${WORKER_NODE_OPTIONS}"`), 'the unit sets NODE_OPTIONS');
  // worker.env (EnvironmentFile) must come after it, so that an operator's NODE_OPTIONS there wins.
  assert.ok(unit.indexOf('Environment=NODE_OPTIONS') < unit.indexOf('EnvironmentFile='), 'worker.env is read after the default');
});

test('maxCachedWorkflows: 250 by default, set by SATMACHINE_MAX_CACHED_WORKFLOWS, refused below 2 with the field named', () => {
  assert.equal(loadConfig({ env: {}, file: null }).maxCachedWorkflows, 250);
  assert.equal(loadConfig({ env: { SATMACHINE_MAX_CACHED_WORKFLOWS: '40' }, file: null }).maxCachedWorkflows, 40);
  assert.throws(() => loadConfig({ env: { SATMACHINE_MAX_CACHED_WORKFLOWS: '1' }, file: null }), (err: unknown) => err instanceof ConfigError && /maxCachedWorkflows/.test(err.message));
  assert.throws(() => loadConfig({ env: { SATMACHINE_MAX_CACHED_WORKFLOWS: 'many' }, file: null }), (err: unknown) => err instanceof ConfigError && /maxCachedWorkflows/.test(err.message));
});
