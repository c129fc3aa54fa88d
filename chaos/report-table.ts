/** `npx tsx chaos/report-table.ts <CHAOS_OUT file>`: the table again from the per-campaign JSON lines of a run. */
import { readFileSync } from 'node:fs';
import { table } from './table';

const file = process.argv[2];
if (!file) throw new Error('usage: tsx chaos/report-table.ts <file.jsonl>');
const results = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Parameters<typeof table>[0][number]);
process.stdout.write(`${table(results)}\n`);
