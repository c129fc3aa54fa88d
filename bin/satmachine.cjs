#!/usr/bin/env node
// `satmachine …`: the operator CLI. Runs the build (dist/, plain Node) when there is one that is not older than
// the sources next to it; otherwise (a development checkout without a fresh build) the TypeScript through tsx.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const built = path.join(root, 'dist', 'client', 'cli.js');

/** Newest modification time of the TypeScript sources of the built folders (a few hundred stats: ~2 ms). */
function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(full).mtimeMs);
  }
  return newest;
}

function buildIsFresh() {
  let builtAt;
  try {
    builtAt = fs.statSync(path.join(root, 'dist', 'build-info.json')).mtimeMs;
  } catch {
    return false;
  }
  const folders = fs.readdirSync(path.join(root, 'dist'), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => path.join(root, e.name));
  return folders.every((dir) => !fs.existsSync(dir) || newestSource(dir) <= builtAt);
}

function hasTsx() {
  try {
    require.resolve('tsx/cjs');
    return true;
  } catch {
    return false;
  }
}

if (fs.existsSync(built) && (process.env.SATMACHINE_FROM_SOURCE !== '1') && (buildIsFresh() || !hasTsx())) {
  require(built);
} else {
  require('tsx/cjs');
  require('../client/cli.ts');
}
