/**
 * The worker PROCESS is killed (SIGKILL) while transfers are in flight — LNbits has paid, the answers are
 * held back by a fault proxy — and a new worker process finishes the cash-out: every client is paid exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import type { CashOutResult } from '../workflows/cashout';
import { cashOutRow, createCashOutWorld, ledgerTransaction, walletSats } from './support/cashout-fixture';
import { startFaultProxy } from './support/lnbits-fault-proxy';
import { getStack } from './support/stack';
import { testClient, uniqueTaskQueue } from './support/temporal-client';

function startWorkerProcess(configFile: string): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support', 'worker-process.ts')], {
    env: { ...process.env, SATMACHINE_WORKER_CONFIG: configFile },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}
const exited = (child: ChildProcess) => new Promise<void>((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));

test('SIGKILL of the worker process during transfers: restarted, completes, no double payment', async (t) => {
  const proxy = await startFaultProxy(getStack().lnbits.url);
  const taskQueue = uniqueTaskQueue('cashout-crash');
  const w = await createCashOutWorld({ taskQueue, lnbitsUrl: proxy.url, overrides: { payoutConcurrency: 2 } });
  const dir = mkdtempSync(path.join(tmpdir(), 'cashout-crash-'));
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify(w.config), { mode: 0o600 });
  const { client, close } = await testClient();
  let child = startWorkerProcess(configFile);
  try {
    const sourceBefore = await walletSats(w.source);
    proxy.delayPayMs = 60_000; // LNbits pays at once; the worker hears of it only after the kill
    const row = cashOutRow();
    await startCashOut(client, w.config, row);
    for (let i = 0; i < 600 && proxy.paysForwarded < 2; i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(proxy.paysForwarded, 2, 'two transfers in flight (payoutConcurrency 2)');
    const paidCount = async () => (await Promise.all(w.clients.map((c) => walletSats(c.wallet)))).filter((s) => s > 0).length;
    let paidBeforeKill = 0;
    for (let i = 0; i < 100 && (paidBeforeKill = await paidCount()) < 2; i++) await new Promise((r) => setTimeout(r, 50));
    assert.equal(paidBeforeKill, 2, 'LNbits paid both; their answers are held back');
    child.kill('SIGKILL');
    await exited(child);
    t.diagnostic(`killed worker pid ${child.pid} with 2 payments made and unanswered`);

    proxy.delayPayMs = 0;
    const t0 = Date.now();
    child = startWorkerProcess(configFile);
    const result = (await client.workflow.getHandle(cashOutWorkflowId(row.id)).result()) as CashOutResult;
    t.diagnostic(`restarted worker finished the cash-out in ${Date.now() - t0} ms`);
    assert.equal(result.status, 'completed');

    const tx = (await ledgerTransaction(w.db.pool, row.id))!;
    assert.ok(tx.payments.every((p) => p.status === 'completed'));
    let sum = 0;
    for (const c of w.clients) {
      const p = tx.payments.find((x) => x.clientId === c.id)!;
      assert.equal(await walletSats(c.wallet), p.amountSats, `client ${c.id} paid exactly once`);
      sum += p.amountSats;
    }
    const commission = tx.payments.find((p) => p.kind === 'commission')!;
    assert.equal(await walletSats(w.commission), commission.amountSats);
    assert.equal(await walletSats(w.source), sourceBefore - sum - commission.amountSats, 'the source paid each payout once');
    assert.equal(tx.payments.filter((p) => p.attempts >= 2).length, 2, 'the two interrupted payouts were resumed by a second attempt');
  } finally {
    child.kill('SIGKILL');
    await exited(child);
    await close();
    await proxy.close();
    await w.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
