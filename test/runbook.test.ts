/**
 * docs/runbook.md, executed (issue 13). For each scenario the test provokes the failure on the real stack
 * (Temporal, PostgreSQL, LNbits, a worker with every activity), then runs the runbook's own command blocks
 * (test/support/runbook.ts parses them out of the Markdown), and checks that the scenario ends recovered:
 * `satmachine reconcile` exits 0 and the money is where it belongs in LNbits. Breaking a documented command
 * (a renamed option, a changed message, a step that no longer works) fails this test.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import type { Client } from '@temporalio/client';
import { createWorkerActivities } from '../activities';
import { encryptSecret } from '../adapters/crypto/secret-box';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import { CashOutStatus, PayoutSats } from '../domain/search-attributes';
import { createLogger } from '../log/logger';
import { cliEnvFor } from './support/cli';
import { cashOutRow, currentDetails, deleteWallet, storedBalance, untilState, walletSats, withCashOutWorld, type CashOutContext } from './support/cashout-fixture';
import { createWallet } from './support/lnbits';
import { checkAgainstCli, documentedSatmachineCommands, runBlock, runbookBlocks, shellWords, type Placeholders, type RunbookEnv } from './support/runbook';
import { repoRoot } from '../config/load';
import { getStack } from './support/stack';
import { startTestWorker, testClient, uniqueTaskQueue } from './support/temporal-client';
import { createIngestionFixture } from './support/ingestion-fixture';
import { freePort } from './support/ports';
import { createLamassuIngestion } from '../activities/lamassu';
import { ensurePollerStarted, getPollerStatus } from '../client/poller';


interface RunbookWorld extends CashOutContext {
  rb: RunbookEnv;
  /** Every LNbits wallet of the world with the sats it should end with, checked by `conserved`. */
  conserved: (cryptoAtoms: number) => Promise<void>;
}

/** A cash-out world with a worker running every activity (cash-out, reconciliation, health, sweep, ingestion). */
async function withRunbookWorld(opts: { faultProxy?: boolean; clients?: number }, fn: (w: RunbookWorld) => Promise<void>): Promise<void> {
  await withCashOutWorld({ taskQueuePrefix: 'runbook', clients: opts.clients ?? 3, faultProxy: opts.faultProxy, worker: false }, async (ctx) => {
    const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'runbook' });
    const acts = createWorkerActivities({ config: ctx.world.config, pool: ctx.world.db.pool, log });
    const worker = await startTestWorker({ taskQueue: ctx.world.taskQueue, activities: acts.activities });
    const { temporal } = getStack();
    // Commands like `export --out ./incident-…` write into a scratch folder, not the checkout.
    const scratchDir = mkdtempSync(path.join(tmpdir(), 'runbook-'));
    const rb: RunbookEnv = { env: cliEnvFor(ctx.world.config, { USER: 'operator' }), temporalAddress: temporal.address, temporalCliPath: temporal.cliPath, scratchDir };
    const sourceBefore = await walletSats(ctx.world.source);
    /** Money conserved in LNbits: the clients and the commission wallet received exactly what the source sent. */
    const conserved = async (cryptoAtoms: number) => {
      const received = (await Promise.all([ctx.world.commission, ...ctx.world.clients.map((c) => c.wallet)].map(walletSats))).reduce((s, n) => s + n, 0);
      const sent = sourceBefore - (await walletSats(ctx.world.source));
      assert.equal(received, sent, 'every sat that left the source wallet arrived in a client or the commission wallet');
      const { rows } = await ctx.world.db.pool.query(`SELECT COALESCE(sum(unallocated_sats), 0)::int AS u FROM satoshimachine.lamassu_transactions WHERE status = 'completed'`);
      assert.equal(sent + Number(rows[0].u), cryptoAtoms, 'Σ payouts + commission + unallocated = crypto_atoms');
    };
    try {
      await fn({ ...ctx, rb, conserved });
    } finally {
      await worker.stop();
      await acts.close();
    }
  });
}

async function completedCashOut(client: Client, w: RunbookWorld['world'], cryptoAtoms = '512400') {
  const row = cashOutRow({ cryptoAtoms });
  await startCashOut(client, w.config, row);
  await untilState(client, cashOutWorkflowId(row.id), (s) => s.status === 'completed', 'completed', 120_000);
  return row;
}

/** The fixture's client names ("client 0", …), quoted as an operator types them: clients are named, not UUIDs. */
const clientName = (i: number) => `'client ${i}'`;

async function until<T>(what: string, fn: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (ok(v)) return v;
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('the runbook as written', () => {
  test('every documented `npx satmachine` command and option exists', () => {
    const commands = documentedSatmachineCommands();
    assert.ok(commands.length > 40, `the runbook documents ${commands.length} satmachine commands`);
    const problems = commands.map((c) => [c.join(' '), checkAgainstCli(c)]).filter(([, p]) => p);
    assert.deepEqual(problems, []);
  });

  test('every scenario has its executable blocks (other sections may be added freely)', () => {
    const tags = runbookBlocks().flatMap((b) => (b.tag ? [b.tag] : []));
    for (const t of ['s1-duplicate', 's2-respond', 's2-recover', 's3-respond', 's3-recover', 's4-respond', 's4-recover', 's5-respond', 's5-recover', 's6-rotated', 's7-wallet-deleted']) {
      assert.ok(tags.includes(t), `block test=${t}`);
    }
  });

  test('the commands work literally as typed: `npx satmachine …` in the checkout (the spot check, through npx)', () => {
    const line = runbookBlocks().find((b) => b.tag === 's5-respond')!.lines.find((l) => l.startsWith('npx satmachine commission'))!;
    const words = shellWords(line.slice(0, line.indexOf('#')).trim());
    const out = execFileSync(words[0]!, words.slice(1), { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
    assert.match(out, /base \(sats\) +259029/);
    assert.match(out, /commission \(sats\) +7771/);
  });

  test('a broken command fails the block (e.g. a renamed option)', async () => {
    const md = '```bash test=broken\nnpx satmachine alerts list --no-such-option   # → prints "no alerts"\n```\n';
    await assert.rejects(runBlock('broken', { env: {}, temporalAddress: '', temporalCliPath: '' }, {}, md), /expected exit 0, got 2/);
  });
});

describe('scenarios, provoked and recovered with the runbook\'s commands', () => {
  test('4. balance discrepancy: tampered stored balance → reconcile finds it → repair-balance → reconcile exit 0', async () => {
    await withRunbookWorld({}, async ({ world: w, client, rb, conserved }) => {
      await completedCashOut(client, w);
      const c0 = w.clients[0]!;
      // The guard refuses a hand-written balance change…
      await assert.rejects(
        w.db.pool.query('UPDATE satoshimachine.clients SET remaining_balance_fiat_minor = remaining_balance_fiat_minor + 100000 WHERE id = $1', [c0.id]),
        (err: { code?: string }) => err.code === '23514',
      );
      // …so the tamper needs a superuser bypassing triggers (what the operator did, in effect).
      const seed = await w.db.pool.connect();
      try {
        await seed.query('SET session_replication_role = replica');
        await seed.query('UPDATE satoshimachine.clients SET remaining_balance_fiat_minor = remaining_balance_fiat_minor + 100000 WHERE id = $1', [c0.id]);
        await seed.query('SET session_replication_role = DEFAULT');
      } finally {
        seed.release();
      }
      const tampered = await storedBalance(w.db.pool, c0.id);
      const ph: Placeholders = { '<client>': clientName(0) };
      await runBlock('s4-respond', rb, ph);
      await runBlock('s4-recover', rb, ph);
      assert.equal(await storedBalance(w.db.pool, c0.id), tampered - 100000);
      const corr = await w.db.pool.query(`SELECT actor, delta_fiat_minor::int AS d, reason FROM satoshimachine.balance_corrections WHERE client_id = $1`, [c0.id]);
      assert.deepEqual(corr.rows.map((r) => [r.actor, r.d]), [[userInfo().username, -100000]], 'who (the OS user by default) and how much');
      const events = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.operator_events WHERE action = 'balance-repaired'`);
      assert.equal(events.rows[0].n, 1);
      await conserved(512400);
    });
  });

  test('1. duplicate run after a reset: pays nothing, shows the owner in the Web UI, runbook confirms and resolves', async () => {
    await withRunbookWorld({}, async ({ world: w, client, rb, conserved }) => {
      const row = await completedCashOut(client, w);
      const id = cashOutWorkflowId(row.id);
      const first = await client.workflow.getHandle(id).describe();
      // The operator's reset: a new run of the same workflow id.
      execFileSync(getStack().temporal.cliPath, ['workflow', 'reset', '--address', rb.temporalAddress, '--namespace', getStack().temporal.namespace,
        '--workflow-id', id, '--type', 'FirstWorkflowTask', '--reason', 'runbook test: duplicate start'], { encoding: 'utf8' });
      const dup = await until('the reset run to finish', () => client.workflow.getHandle(id).describe(), (d) => d.runId !== first.runId && d.status.name === 'COMPLETED');
      assert.equal(dup.typedSearchAttributes.get(CashOutStatus), 'completed', 'the Web UI shows the owning run\'s status');
      assert.ok((dup.typedSearchAttributes.get(PayoutSats) ?? 0) > 0, 'and the sats it paid, not 0');
      const alertId = async () =>
        String((await w.db.pool.query(`SELECT id FROM satoshimachine.alerts WHERE kind = 'duplicate-cashout' AND resolved_at IS NULL ORDER BY id LIMIT 1`)).rows[0].id);
      await runBlock('s1-duplicate', rb, { '<lamassu-id>': row.id, '<alert-id>': alertId });
      const open = await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.alerts WHERE kind = 'duplicate-cashout' AND resolved_at IS NULL`);
      assert.equal(open.rows[0].n, 0);
      const halted = await w.db.pool.query('SELECT payouts_halted FROM satoshimachine.control');
      assert.equal(halted.rows[0].payouts_halted, false);
      await conserved(512400);
    });
  });

  test('3. LNbits fails mid-payout: runbook stops, lists the failing payouts, resumes, retries (waiting), reconciles', async () => {
    await withRunbookWorld({ faultProxy: true }, async ({ world: w, client, proxy, rb, conserved }) => {
      // LNbits answers everything but payments: 503 (down mid-payout, after the pre-flight and the reservation).
      proxy!.intercept = (r) => (r.isPayment ? { answer: { status: 503, json: { detail: 'Service Unavailable' } } } : undefined);
      const row = cashOutRow();
      await startCashOut(client, w.config, row);
      await until('a payout attempt to fail', async () => (await w.db.pool.query(`SELECT count(*)::int AS n FROM satoshimachine.payments WHERE last_error IS NOT NULL`)).rows[0].n, (n) => n > 0);
      const ph: Placeholders = { '<lamassu-id>': row.id };
      await runBlock('s3-respond', rb, ph);
      proxy!.intercept = null; // "fix the cause": LNbits answers again
      await runBlock('s3-recover', rb, ph);
      await conserved(512400);
    });
  });

  test('6. a client rotated its key: paused automatically; set-key + set-status active + tx retry pays the same cash-out', async () => {
    await withRunbookWorld({}, async ({ world: w, client, rb, conserved }) => {
      const c1 = w.clients[1]!;
      // The client rotates its invoice key in LNbits: we simulate the old key becoming invalid by storing a
      // key LNbits rejects, then the client gives us its (valid) key again as "the new one".
      await w.db.pool.query(`UPDATE satoshimachine.clients SET invoice_key_enc = $2 WHERE id = $1`, [
        c1.id,
        encryptSecret('0'.repeat(32), w.config.encryptionKey!, `client-invoice-key:${c1.wallet.id}`),
      ]);
      const row = cashOutRow();
      await startCashOut(client, w.config, row);
      await untilState(client, cashOutWorkflowId(row.id), (s) => s.status === 'needs_attention' && s.step === 'wait-operator', 'needs_attention', 120_000);
      // The Web UI's details name the unpaid client and count like FailedPayouts does.
      const details = await currentDetails(client, cashOutWorkflowId(row.id));
      assert.match(details, /needs_attention · 1 of 4 payout\(s\) not paid \(client 1\)/);
      const dir = mkdtempSync(path.join(tmpdir(), 'runbook-key-'));
      const keyFile = path.join(dir, 'new-invoice-key');
      writeFileSync(keyFile, `${c1.wallet.invoiceKey}\n`, { mode: 0o600 });
      await runBlock('s6-rotated', rb, { '<client>': clientName(1), '<lamassu-id>': row.id, '<key-file>': keyFile });
      assert.ok((await walletSats(c1.wallet)) > 0, 'the client with the rotated key was paid by the same cash-out');
      await conserved(512400);
    });
  });

  test('7. a client deleted its wallet: set-wallet (verified against the new wallet) + retry pays into the new wallet', async () => {
    await withRunbookWorld({}, async ({ world: w, client, rb, conserved }) => {
      const c2 = w.clients[2]!;
      await deleteWallet(c2.wallet);
      const row = cashOutRow();
      await startCashOut(client, w.config, row);
      await untilState(client, cashOutWorkflowId(row.id), (s) => s.status === 'needs_attention' && s.step === 'wait-operator', 'needs_attention', 120_000);
      const { lnbits } = getStack();
      const fresh = await createWallet(lnbits.url, lnbits.superuserToken, { name: 'client-2-new' });
      const dir = mkdtempSync(path.join(tmpdir(), 'runbook-key-'));
      const keyFile = path.join(dir, 'new-invoice-key');
      writeFileSync(keyFile, `${fresh.invoiceKey}\n`, { mode: 0o600 });
      await runBlock('s7-wallet-deleted', rb, { '<client>': clientName(2), '<lamassu-id>': row.id, '<key-file>': keyFile, '<new-wallet-id>': fresh.id });
      const paid = await walletSats(fresh);
      assert.ok(paid > 0, 'the retried payout went to the new wallet');
      // The deleted wallet is gone from LNbits: conservation counts the new one in its place.
      w.clients[2] = { ...c2, wallet: fresh };
      await conserved(512400);
    });
  });

  test('5. commission: the spot check, a commission-wallet mismatch found, and recovered with reconcileSince', async () => {
    await withRunbookWorld({}, async ({ world: w, client, rb }) => {
      await completedCashOut(client, w);
      // The operator moves the collected commission to cold storage: the wallet no longer holds Σ commission.
      const { lnbits } = getStack();
      const ln = createLnbitsClient({ url: lnbits.url });
      const cold = await createWallet(lnbits.url, lnbits.superuserToken, { name: 'cold-storage' });
      const held = await walletSats(w.commission);
      assert.ok(held > 0);
      const inv = await ln.createInvoice(cold.invoiceKey, { amountSats: held, memo: 'commission sweep' });
      assert.equal((await ln.payInvoice(w.commission.adminKey, inv.bolt11)).kind, 'paid');
      await runBlock('s5-respond', rb, {});
      // The runbook's recovery: reconcileSince = the time of that move, in the worker's config (a restart).
      const since = new Date().toISOString();
      const log = createLogger({ level: 'silent', name: 'runbook-restart' });
      // The new worker polls the same task queue; the old one is still running in this world, so give the new
      // config its own queue and point the CLI at it.
      const taskQueue = `${w.taskQueue}-restarted`;
      const config = { ...w.config, reconcileSince: since, temporal: { ...w.config.temporal, taskQueue } };
      const acts = createWorkerActivities({ config, pool: w.db.pool, log });
      const worker = await startTestWorker({ taskQueue, activities: acts.activities });
      try {
        await runBlock('s5-recover', { ...rb, env: cliEnvFor(config, { USER: 'operator' }) }, {});
      } finally {
        await worker.stop();
        await acts.close();
      }
    });
  });

  test('2. SSH / Lamassu connection lost: the poller records the error, connection test names the step; fixed config → one poll first', async () => {
    const f = await createIngestionFixture({});
    const taskQueue = uniqueTaskQueue('runbook-poller');
    const good = { ...f.config, temporal: { ...f.config.temporal, taskQueue } };
    const broken = { ...good, lamassu: { ...good.lamassu, ssh: { ...good.lamassu.ssh!, port: await freePort() } } };
    const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'runbook-ssh' });
    const workflowId = `lamassu-poller-runbook-${Date.now()}`;
    const { temporal } = getStack();
    const rbFor = (config: typeof good): RunbookEnv => ({
      env: cliEnvFor(config, { USER: 'operator', SATMACHINE_POLLER_WORKFLOW_ID: workflowId }),
      temporalAddress: temporal.address, temporalCliPath: temporal.cliPath, scratchDir: mkdtempSync(path.join(tmpdir(), 'runbook-')),
    });
    const { client, close } = await testClient();
    const brokenIngestion = createLamassuIngestion({ config: broken, pool: f.ledger.pool, log });
    let worker = await startTestWorker({ taskQueue, activities: brokenIngestion.activities });
    try {
      await ensurePollerStarted(client, good, { workflowId });
      await until('the poller to record the failed read', () => getPollerStatus(client, { workflowId }), (s) => s.lastError !== null);
      await runBlock('s2-respond', rbFor(broken), {});
      // "Restart the worker with the new config."
      await worker.stop();
      await brokenIngestion.close();
      worker = await startTestWorker({ taskQueue, activities: f.ingestion.activities });
      await runBlock('s2-recover', rbFor(good), {});
      const s = await getPollerStatus(client, { workflowId });
      assert.equal(s.lastError, null);
      assert.ok(s.lastSuccessAt);
    } finally {
      await client.workflow.getHandle(workflowId).terminate('test over').catch(() => undefined);
      await worker.stop();
      await close();
      await f.cleanup();
    }
  });
});
