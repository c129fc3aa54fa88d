/**
 * `npm run bench`: the P1–P5 suite of issue 15 at its workloads, one benchmark after the other (so they do not
 * compete for the machine). Each benchmark is its own script printing one JSON object; this prints them as one
 * JSON object (machine, load, every benchmark's output, the summary) and then a short table with each figure
 * next to its goal.
 *
 *   npm run bench                      P1 (200 cash-outs × 50 clients, LNbits on PostgreSQL, raw rail), P2, P3, P4
 *   npm run bench -- --quick           the same benchmarks on small workloads (a few minutes: a smoke run)
 *   npm run bench -- --only P3,P4      some of them
 *   npm run bench -- --all             also start-up (needs `npm run build`) and the 10-minute LNbits outage
 * Exit 1 when a benchmark failed to run or verify (a missed goal is reported, not failed).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../config/load';
import { machine } from './common';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- each benchmark's own JSON
interface Figure {
  figure: string;
  value: string;
  goal: string;
  meets: boolean | null;
  from: string;
}
interface Bench {
  id: string;
  file: string;
  args: string[];
  quickArgs: string[];
  figures: (r: Json) => Figure[];
  extra?: boolean;
}

const fmt = (n: unknown, unit = '') => (typeof n === 'number' && Number.isFinite(n) ? `${n}${unit}` : 'n/a');

const BENCHES: Bench[] = [
  {
    id: 'P1',
    file: 'cashout.ts',
    args: ['--sequential', '3', '--concurrent', '200', '--clients', '50', '--lnbits-db', 'postgres'],
    quickArgs: ['--sequential', '2', '--concurrent', '10', '--clients', '5', '--lnbits-db', 'postgres'],
    figures: (r) => {
      const rail = r.results?.rail;
      const con = r.results?.concurrent;
      const ratio = rail?.pipelineOverRail as number | undefined;
      return [
        {
          figure: 'P1 payouts/s, pipeline / raw rail',
          value: `${fmt(con?.payoutsPerSecond)} / ${fmt(rail?.payoutsPerSecond)} = ${fmt(ratio)}× (${r.workload?.concurrent} cash-outs × ${r.workload?.clients} clients, ${r.machine?.lnbits})`,
          goal: '≥ 0.8×',
          meets: typeof ratio === 'number' ? ratio >= 0.8 : null,
          from: 'bench/cashout.ts',
        },
        {
          figure: 'P5 worker peak RSS during P1',
          value: `${fmt(r.results?.peakRssMiB?.value, ' MiB')} (the process hosting worker, client and the bench: an upper bound)`,
          goal: '< 300 MiB',
          meets: typeof r.results?.peakRssMiB?.value === 'number' ? r.results.peakRssMiB.value < 300 : null,
          from: 'bench/cashout.ts',
        },
      ];
    },
  },
  {
    id: 'P2',
    file: 'latency.ts',
    args: ['--rows', '20'],
    quickArgs: ['--rows', '3', '--gap-max-seconds', '10'],
    figures: (r) => [
      {
        figure: 'P2 row confirmed → first payout paid',
        value: `p50 ${fmt(r.firstPayoutS?.p50, ' s')}, p95 ${fmt(r.firstPayoutS?.p95, ' s')} (poll every ${r.workload?.pollIntervalSeconds} s; processing p95 ${fmt(r.processingS?.p95, ' s')})`,
        goal: `≤ ${fmt((r.workload?.pollIntervalSeconds ?? NaN) + 2, ' s')}`,
        meets: typeof r.meetsGoal === 'boolean' ? r.meetsGoal : null,
        from: 'bench/latency.ts',
      },
      {
        figure: 'P5 worker process peak RSS (production worker, own process)',
        value: fmt(r.workerPeakRssMiB, ' MiB'),
        goal: '< 300 MiB',
        meets: typeof r.workerPeakRssMiB === 'number' ? r.workerPeakRssMiB < 300 : null,
        from: 'bench/latency.ts',
      },
    ],
  },
  {
    id: 'P3',
    file: 'reconcile.ts',
    args: ['--runs', '3'],
    quickArgs: ['--clients', '1000', '--transactions', '10000', '--runs', '2'],
    figures: (r) => [
      {
        figure: 'P3 reconciliation (ledger part)',
        value: `median ${fmt(r.reconcileMs?.median, ' ms')} over ${r.workload?.clients} clients / ${r.workload?.payments} payouts / ${r.workload?.transactions} cash-outs`,
        goal: '< 1000 ms',
        meets: typeof r.reconcileMs?.median === 'number' ? r.reconcileMs.median < 1000 : null,
        from: 'bench/reconcile.ts',
      },
    ],
  },
  {
    id: 'P4',
    file: 'poll.ts',
    args: ['--rows', '1000000'],
    quickArgs: ['--rows', '10000', '--polls', '3'],
    figures: (r) => {
      const steps = (r.results ?? []) as Json[];
      const last = steps.at(-1);
      return [
        {
          figure: 'P4 one poll through the SSH tunnel',
          value: `${steps.map((s) => `${s.tableRows} rows: ${fmt(s.pollMs?.median, ' ms')}`).join(', ') || 'n/a'} (Lamassu's schema: a sequential scan); with an index on confirmed_at: ${fmt(r.withConfirmedAtIndex?.pollMs?.median, ' ms')}`,
          goal: '< 2000 ms',
          meets: typeof last?.pollMs?.median === 'number' ? last.pollMs.median < 2000 : null,
          from: 'bench/poll.ts',
        },
      ];
    },
  },
  {
    id: 'startup',
    file: 'startup.ts',
    args: [],
    quickArgs: ['--runs', '3'],
    extra: true,
    figures: (r) => [{ figure: 'start-up', value: JSON.stringify(r.results ?? r).slice(0, 120), goal: 'CLI --help < 0.4 s', meets: null, from: 'bench/startup.ts' }],
  },
  {
    id: 'outage',
    file: 'outage.ts',
    args: ['--cashouts', '50', '--outage-seconds', '600'],
    quickArgs: ['--cashouts', '5', '--outage-seconds', '30'],
    extra: true,
    figures: (r) => [{ figure: 'LNbits outage', value: JSON.stringify(r.results ?? r).slice(0, 120), goal: 'all complete', meets: null, from: 'bench/outage.ts' }],
  },
];

function parseArgs(argv: string[]): { quick: boolean; all: boolean; only: Set<string> | null } {
  let quick = false;
  let all = false;
  let only: Set<string> | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--all') all = true;
    else if (a === '--only') {
      only = new Set((argv[++i] ?? '').split(',').map((s) => s.trim()).filter(Boolean));
      const unknown = [...only].filter((id) => !BENCHES.some((b) => b.id === id));
      if (!only.size || unknown.length) throw new Error(`--only: a comma-separated list of ${BENCHES.map((b) => b.id).join(', ')}`);
    } else throw new Error(`unknown argument ${a} (use --quick, --all, --only P1,P3)`);
  }
  return { quick, all, only };
}

function table(rows: Figure[]): string {
  const cells = [['figure', 'measured', 'goal', 'meets'], ...rows.map((f) => [f.figure, f.value, f.goal, f.meets === null ? '–' : f.meets ? 'yes' : 'NO'])];
  const widths = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(cells[0]!), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n');
}

function main(): number {
  const { quick, all, only } = parseArgs(process.argv.slice(2));
  const chosen = BENCHES.filter((b) => (only ? only.has(b.id) : all || !b.extra));
  const started = Date.now();
  const results: Json[] = [];
  const summary: Figure[] = [];
  let failed = 0;
  for (const b of chosen) {
    if (b.id === 'startup' && !existsSync(path.join(repoRoot, 'dist'))) {
      results.push({ benchmark: b.file, id: b.id, error: 'no dist/: run `npm run build` first' });
      failed++;
      continue;
    }
    const args = quick ? b.quickArgs : b.args;
    process.stderr.write(`[bench] ${b.id}: bench/${b.file} ${args.join(' ')} (load ${os.loadavg()[0]!.toFixed(2)}) …\n`);
    const t0 = Date.now();
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(__dirname, b.file), ...args], {
      cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 * 1024 * 1024,
    });
    const durationS = Math.round((Date.now() - t0) / 1000);
    let out: Json | undefined;
    try {
      // A dev server a benchmark starts may print its banner to the inherited stdout first: the JSON starts at column 0.
      out = JSON.parse(r.stdout.slice(Math.max(0, r.stdout.search(/^[{[]/m)))) as Json;
    } catch {
      out = undefined;
    }
    if (r.status !== 0 || !out) {
      failed++;
      results.push({ benchmark: b.file, id: b.id, durationS, error: r.status !== 0 ? `exit ${r.status ?? r.signal}` : 'output is not JSON', output: out ?? r.stdout.slice(0, 2000) });
      if (out) summary.push(...b.figures(out).map((f) => ({ ...f, meets: false })));
      continue;
    }
    results.push({ id: b.id, durationS, ...out });
    summary.push(...b.figures(out));
  }
  const report = {
    suite: quick ? 'quick (small workloads: not the issue-15 figures)' : 'P1–P5 at the issue-15 workloads',
    machine: { ...machine(), loadAvg1mAtEnd: Math.round(os.loadavg()[0]! * 100) / 100 },
    totalS: Math.round((Date.now() - started) / 1000),
    results,
    summary,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n${table(summary)}\n`);
  return failed ? 1 : 0;
}

process.exit(main());
