#!/usr/bin/env node
// `npm run build`, last step: the build is production code only — no test/, sandbox/, bench/ or scripts/ file got
// into dist/ through an import, and no built file requires a devDependency (absent after `npm ci --omit=dev`).
// Then it stamps dist/build-info.json (bin/satmachine.cjs runs dist/ only when it is not older than the sources).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const dist = path.join(root, 'dist');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const dev = new Set(Object.keys(pkg.devDependencies ?? {}));
const problems = [];

for (const folder of ['test', 'sandbox', 'bench', 'scripts']) {
  if (fs.existsSync(path.join(dist, folder))) problems.push(`dist/${folder}/ exists: a production file imports ${folder}/`);
}
if (!fs.existsSync(path.join(dist, 'workflow-bundle.js'))) problems.push('dist/workflow-bundle.js is missing');

function walk(dir) {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)]));
}
for (const file of walk(dist).filter((f) => f.endsWith('.js') && !f.endsWith('workflow-bundle.js'))) {
  const text = fs.readFileSync(file, 'utf8');
  for (const m of text.matchAll(/require\(["']([^"'.][^"']*)["']\)/g)) {
    const name = m[1].startsWith('@') ? m[1].split('/').slice(0, 2).join('/') : m[1].split('/')[0];
    if (dev.has(name)) problems.push(`${path.relative(root, file)} requires the devDependency ${name}`);
  }
}

if (problems.length) {
  console.error(`build check failed:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
fs.writeFileSync(path.join(dist, 'build-info.json'), `${JSON.stringify({ version: pkg.version, builtAt: new Date().toISOString() }, null, 2)}\n`);
console.log('build check: production code only, no devDependency required; dist/build-info.json written');
