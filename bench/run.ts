/**
 * `npm run bench`: runs every benchmark in bench/ (each a script printing one JSON object), one after the
 * other so they do not compete for the machine, and prints them as one JSON array. Extra args are passed on.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const dir = __dirname;
const benches = readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'run.ts' && f !== 'common.ts').sort();
const results: unknown[] = [];
let failed = 0;
for (const file of benches) {
  process.stderr.write(`[bench] ${file} …\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, file), ...process.argv.slice(2)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) {
    failed++;
    results.push({ benchmark: file, error: `exit ${r.status ?? r.signal}` });
    continue;
  }
  try {
    // A dev server a benchmark starts may print its banner to the inherited stdout first: the JSON starts at column 0.
    results.push(JSON.parse(r.stdout.slice(Math.max(0, r.stdout.search(/^[{[]/m)))));
  } catch {
    failed++;
    results.push({ benchmark: file, error: 'output is not JSON', output: r.stdout.slice(0, 2000) });
  }
}
process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
process.exit(failed ? 1 : 0);
