/**
 * Graceful shutdown of the real worker process (systemd's SIGTERM): a payout whose LNbits answer is still on
 * its way when the signal arrives is finished and recorded by the draining worker, which then exits 0; the next
 * worker completes the cash-out and every payout is paid exactly once.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startCashOut } from '../client/cashout';
import { cashOutWorkflowId } from '../domain/constants';
import type { CashOutResult } from '../workflows/cashout';
import { cashOutRow, ledgerTransaction, walletSats, withCashOutWorld } from './support/cashout-fixture';

const exited = (child: ChildProcess) => new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', (code) => r(code))));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('SIGTERM drains: the payout in flight completes and is recorded, the worker exits 0, the next one finishes', async () => {
  await withCashOutWorld({ taskQueuePrefix: 'worker-shutdown', clients: 2, faultProxy: true, worker: false, overrides: { payoutConcurrency: 1 } }, async ({ world: w, client, proxy }) => {
    const configFile = path.join(mkdtempSync(path.join(tmpdir(), 'worker-shutdown-')), 'config.json');
    writeFileSync(configFile, JSON.stringify({ ...w.config, shutdownGraceSeconds: 30 }), { mode: 0o600 });
    const startWorker = () =>
      spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'support', 'worker-process.ts')], {
        env: { ...process.env, SATMACHINE_WORKER_CONFIG: configFile },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
    const first = startWorker();
    let second: ChildProcess | undefined;
    try {
      proxy.delayPayMs = 3_000; // LNbits pays at once; its answer reaches the worker 3 s later
      const row = cashOutRow();
      await startCashOut(client, w.config, row);
      for (let i = 0; i < 600 && proxy.paysForwarded < 1; i++) await sleep(50);
      assert.equal(proxy.paysForwarded, 1, 'one payment in flight');
      first.kill('SIGTERM');
      assert.equal(await exited(first), 0, 'the draining worker exits 0');
      const drained = (await ledgerTransaction(w.db.pool, row.id))!;
      assert.equal(drained.payments.filter((p) => p.status === 'completed').length, 1, 'the payout in flight was finished and recorded before the exit');
      assert.equal(proxy.paysForwarded, 1, 'no new payment after SIGTERM');

      proxy.delayPayMs = 0;
      second = startWorker();
      const result = (await client.workflow.getHandle(cashOutWorkflowId(row.id)).result()) as CashOutResult;
      assert.equal(result.status, 'completed');
      const tx = (await ledgerTransaction(w.db.pool, row.id))!;
      for (const c of w.clients) assert.equal(await walletSats(c.wallet), tx.payments.find((p) => p.clientId === c.id)!.amountSats, 'each client paid exactly once');
      assert.equal(proxy.paysForwarded, tx.payments.filter((p) => p.amountSats > 0).length, 'one payment per payout');
    } finally {
      first.kill('SIGKILL');
      second?.kill('SIGTERM');
      if (second) await exited(second);
    }
  });
});
