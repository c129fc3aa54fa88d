/**
 * The web console in a real headless Chromium against the real stack (PostgreSQL, Temporal with a worker,
 * LNbits): an operator logs in, adds a client, records and confirms a deposit, watches a cash-out pay, opens
 * the client's statement link (new balance and payout), retries a failed cash-out; a revoked link is a 404,
 * a missing login a redirect, a form post without the CSRF token is refused. Screenshots go to docs/screenshots/.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { createCashOutActivities } from '../activities/cashout';
import { createReconcileActivities } from '../activities/reconcile';
import { createLnbitsClient } from '../adapters/lnbits/client';
import { formatFiat } from '../client/args';
import { startCashOut } from '../client/cashout';
import { pricePerBtc } from '../client/statement';
import { repoRoot } from '../config/load';
import { startConsole } from '../console/main';
import { hashPassword } from '../console/passwords';
import { createLogger } from '../log/logger';
import { launchBrowser } from './support/browser';
import { cashOutRow, fund, ledgerTransaction, walletSats, withCashOutWorld } from './support/cashout-fixture';
import { cliEnvFor, runCli } from './support/cli';
import { createWallet } from './support/lnbits';
import { getStack } from './support/stack';
import { startTestWorker } from './support/temporal-client';

const OPERATOR = { name: 'alice', password: 'correct horse battery staple' };
const SCREENSHOTS = path.join(repoRoot, 'docs', 'screenshots');

// This file's own poller id: the emergency stop must not pause another test's poller in the shared namespace.
process.env.SATMACHINE_POLLER_WORKFLOW_ID = `console-browser-poller-${process.pid}`;

async function login(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.fill('input[name=name]', OPERATOR.name);
  await page.fill('input[name=password]', OPERATOR.password);
  await page.click('button:has-text("Log in")');
  await page.waitForURL(`${base}/`);
}

const flash = async (page: Page) => ((await page.locator('.flash').first().textContent()) ?? '').trim();

/** Reloads the cash-out's page until its ledger status is `status`. */
async function untilCashOutStatus(page: Page, base: string, lamassuId: string, status: string, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen = '';
  while (Date.now() < deadline) {
    await page.goto(`${base}/cashouts/${lamassuId}`);
    const cell = page.locator('[data-testid=cashout-status]');
    // Until the workflow has recorded it, the cash-out is not in the ledger (the page is a 404).
    seen = (await cell.count()) ? ((await cell.textContent()) ?? '').trim() : '(not recorded yet)';
    if (seen.startsWith(status)) return;
    await page.waitForTimeout(500);
  }
  throw new Error(`cash-out ${lamassuId} never showed "${status}" (last: ${seen})`);
}

test('operator console and client statement in a real browser', { timeout: 300_000 }, async () => {
  const passwordHash = await hashPassword(OPERATOR.password);
  await withCashOutWorld(
    {
      taskQueuePrefix: 'console-browser',
      worker: false,
      clients: 0,
      // Enough for the first cash-out (512 400 sats), not for the second: that one needs the operator.
      sourceSats: 600_000,
      overrides: { console: { host: '127.0.0.1', port: 0, operators: [{ name: OPERATOR.name, passwordHash }], temporalUiUrl: 'http://127.0.0.1:8233', loginAttemptsPerMinute: 8 } },
    },
    async ({ world: w, client: temporal }) => {
      // The worker runs the cash-outs and the reconciliation (the console's "run now").
      const deps = { config: w.config, pool: w.db.pool, log: createLogger({ level: 'silent' }) };
      const worker = await startTestWorker({ taskQueue: w.taskQueue, activities: { ...createCashOutActivities(deps), ...createReconcileActivities(deps) } });
      const server = await startConsole(w.config);
      const browser = await launchBrowser();
      try {
        const base = server.url;
        const cliEnv = cliEnvFor({ ...w.config, console: { ...w.config.console, publicUrl: base } });
        const page = await browser.context.newPage();
        const pool = w.db.pool;

        // No login: every operator page sends the browser to the login page.
        await page.goto(`${base}/deposits`);
        assert.equal(new URL(page.url()).pathname, '/login');
        await page.fill('input[name=name]', OPERATOR.name);
        await page.fill('input[name=password]', 'wrong password, surely');
        await page.click('button:has-text("Log in")');
        assert.match(await flash(page), /Wrong name or password/);
        await login(page, base);
        assert.equal(await page.locator('h1').textContent(), 'Dashboard');

        // Add a client: the invoice key is checked with LNbits (another wallet's key is refused).
        const { lnbits } = getStack();
        const wallet = await createWallet(lnbits.url, lnbits.superuserToken, { name: 'alice-dca' });
        await page.goto(`${base}/clients`);
        await page.fill('form[action="/clients"] input[name=name]', 'Maria Lopez');
        await page.fill('form[action="/clients"] input[name=walletId]', wallet.id);
        await page.fill('form[action="/clients"] input[name=invoiceKey]', w.source.invoiceKey);
        await page.click('button:has-text("Add client")');
        assert.match(await flash(page), /invoice key refused/);
        await page.fill('form[action="/clients"] input[name=name]', 'Maria Lopez');
        await page.fill('form[action="/clients"] input[name=walletId]', wallet.id);
        await page.fill('form[action="/clients"] input[name=invoiceKey]', wallet.invoiceKey);
        await page.click('button:has-text("Add client")');
        assert.match(await flash(page), /client Maria Lopez added/);
        const { rows: [maria] } = await pool.query(`SELECT id, status FROM satoshimachine.clients WHERE wallet_id = $1`, [wallet.id]);
        assert.equal(maria.status, 'active');
        // Find by name.
        await page.goto(`${base}/clients?q=maria`);
        assert.equal(await page.locator('tr[data-client="Maria Lopez"]').count(), 1);
        await page.goto(`${base}/clients?q=nobody`);
        assert.equal(await page.locator('tr[data-client]').count(), 0);

        // Record a deposit, then confirm it: the balance is credited once.
        await page.goto(`${base}/deposits`);
        await page.selectOption('form[action="/deposits"] select[name=clientId]', maria.id);
        await page.fill('form[action="/deposits"] input[name=amount]', '10000.00');
        await page.click('button:has-text("Record deposit")');
        assert.match(await flash(page), /deposit of 10000\.00 GTQ for Maria Lopez recorded, pending/);
        await page.locator('tr:has-text("Maria Lopez") >> button:has-text("Confirm")').click();
        assert.match(await flash(page), /deposit confirmed; balance 0\.00 → 10000\.00/);
        assert.match((await page.locator('[data-testid=deposit-totals]').textContent()) ?? '', /confirmed\s*1\s*10000\.00 GTQ/);

        // A cash-out (as the poller would start it) pays; the console shows it with its split and its workflow.
        const row1 = cashOutRow();
        await startCashOut(temporal, w.config, row1);
        await untilCashOutStatus(page, base, row1.id, 'completed');
        const split = (await page.locator('[data-testid=split]').textContent()) ?? '';
        assert.match(split, /Maria Lopez/);
        assert.match((await page.locator('[data-testid=workflow-link]').getAttribute('href')) ?? '', new RegExp(`^http://127\\.0\\.0\\.1:8233/namespaces/default/workflows/lamassu-tx-${row1.id}$`));
        const tx1 = (await ledgerTransaction(pool, row1.id))!;
        const pay1 = tx1.payments.find((p) => p.kind === 'client')!;
        assert.equal(pay1.status, 'completed');
        assert.equal(await walletSats(wallet), pay1.amountSats);
        const balanceAfter1 = 1_000_000 - pay1.fiatDebit;
        // The payout's memo in the client's wallet tells the remaining balance.
        const seen = await createLnbitsClient({ url: w.config.lnbits.url }).getPayment(wallet.invoiceKey, pay1.paymentHash!);
        assert.match(seen?.memo ?? '', new RegExp(`remaining balance ${formatFiat(balanceAfter1, 2).replace(/\.?0+$/, '')} GTQ`));

        // The statement link (CLI), opened without any login: the new balance and the payout.
        const link = (await runCli(['clients', 'statement-link', maria.id, '--actor', 'alice', '--json'], cliEnv)).json<{ url: string }>().url;
        assert.match(link, new RegExp(`^${base}/statement/[A-Za-z0-9_-]{43}$`));
        await browser.context.clearCookies();
        const res = await page.goto(link);
        assert.equal(res?.status(), 200);
        assert.equal((await page.locator('[data-testid=balance]').textContent())?.trim(), `${formatFiat(balanceAfter1, 2)} GTQ`);
        assert.equal((await page.locator('[data-testid=sats-received]').textContent())?.trim(), pay1.amountSats.toLocaleString('en-US'));
        const payoutsText = (await page.locator('[data-testid=payouts]').textContent()) ?? '';
        assert.match(payoutsText, new RegExp(`${pay1.amountSats.toLocaleString('en-US')}\\s*${formatFiat(pay1.fiatDebit, 2)} GTQ\\s*${formatFiat(pricePerBtc(BigInt(pay1.fiatDebit), BigInt(pay1.amountSats)), 2)} GTQ\\s*paid`));
        assert.equal(await page.locator('svg[aria-label="Sats accumulated over time"]').count(), 1);
        // Nothing on it names an id, a key or a wallet.
        const htmlText = await page.content();
        for (const secret of [maria.id, wallet.id, wallet.invoiceKey, wallet.adminKey, row1.id, pay1.id, pay1.paymentHash!, tx1.id]) assert.ok(!htmlText.includes(secret), 'statement reveals an internal id or key');
        const csv = await page.request.get(`${link}/statement.csv`);
        assert.equal(csv.status(), 200);
        assert.match(await csv.text(), new RegExp(`deposit,confirmed,10000\\.00,GTQ,,\\n.*payout,completed,${formatFiat(pay1.fiatDebit, 2)},GTQ,${pay1.amountSats},`, 's'));

        // Revoked: the same link is a 404.
        assert.equal((await runCli(['clients', 'statement-link', maria.id, '--revoke', '--actor', 'alice'], cliEnv)).code, 0);
        assert.equal((await page.goto(link))?.status(), 404);
        assert.equal((await page.goto(`${base}/statement/not-a-token`))?.status(), 404);

        // A second cash-out finds the source wallet short: needs attention. Funded, the operator retries it here.
        await login(page, base);
        // A new link from the Clients page works at once (shown only in that answer).
        await page.goto(`${base}/clients`);
        await page.click('tr[data-client="Maria Lopez"] button:has-text("Create link")');
        const link2 = ((await page.locator('[data-testid=statement-url]').textContent()) ?? '').trim();
        assert.match(link2, new RegExp(`^${base}/statement/[A-Za-z0-9_-]{43}$`));
        assert.notEqual(link2, link);
        assert.equal((await page.request.get(link2)).status(), 200);
        // A pending deposit can be cancelled: it never reaches the balance.
        await page.goto(`${base}/deposits`);
        await page.selectOption('form[action="/deposits"] select[name=clientId]', maria.id);
        await page.fill('form[action="/deposits"] input[name=amount]', '50.5');
        await page.click('button:has-text("Record deposit")');
        assert.match(await flash(page), /deposit of 50\.50 GTQ for Maria Lopez recorded, pending/);
        await page.locator('tr:has-text("50.50 GTQ") >> button:has-text("Cancel")').click();
        assert.match(await flash(page), /deposit cancelled/);
        assert.match((await page.locator('[data-testid=deposit-totals]').textContent()) ?? '', /cancelled\s*1\s*50\.50 GTQ/);
        const row2 = cashOutRow();
        await startCashOut(temporal, w.config, row2);
        await untilCashOutStatus(page, base, row2.id, 'needs_attention');
        // The dashboard shows the cash-out's alert (acknowledged here) while it waits for the operator.
        await page.goto(`${base}/`);
        await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard.png'), fullPage: true });
        await page.locator('tr:has-text("cashout-needs-attention") >> button:has-text("Acknowledge")').first().click();
        assert.match(await flash(page), /acknowledged/);
        const { rows: acked } = await pool.query(`SELECT acknowledged_by FROM satoshimachine.alerts WHERE kind = 'cashout-needs-attention' AND acknowledged_at IS NOT NULL`);
        assert.ok(acked.length >= 1 && acked.every((a) => a.acknowledged_by === 'alice'));
        await fund(w.source, 600_000);
        await page.goto(`${base}/cashouts/${row2.id}`);
        await page.fill('form[action$="/retry"] input[name=reason]', 'source wallet topped up');
        await page.click('button:has-text("Retry failed payouts")');
        assert.match(await flash(page), /retry of \d+ failed payout\(s\) accepted/);
        await untilCashOutStatus(page, base, row2.id, 'completed');
        const pay2 = (await ledgerTransaction(pool, row2.id))!.payments.find((p) => p.kind === 'client')!;
        assert.equal(await walletSats(wallet), pay1.amountSats + pay2.amountSats);
        // The statement (the Clients page's link) with both payouts, for docs/screenshots/.
        const statementPage = await browser.context.newPage();
        await statementPage.goto(link2);
        assert.equal((await statementPage.locator('[data-testid=sats-received]').textContent())?.trim(), (pay1.amountSats + pay2.amountSats).toLocaleString('en-US'));
        mkdirSync(SCREENSHOTS, { recursive: true });
        await statementPage.screenshot({ path: path.join(SCREENSHOTS, 'statement.png'), fullPage: true });
        await statementPage.close();

        // The dashboard: sats paid, liability, the needs-attention alert, acknowledged here.
        await page.goto(`${base}/`);
        assert.equal((await page.locator('[data-testid=sats-total]').textContent())?.trim(), (pay1.amountSats + pay2.amountSats).toLocaleString('en-US'));
        assert.equal((await page.locator('[data-testid=liability]').textContent())?.trim(), `${formatFiat(1_000_000 - pay1.fiatDebit - pay2.fiatDebit, 2)} GTQ`);

        // Reconciliation, run now from the console: the same workflow as `satmachine reconcile`.
        await page.goto(`${base}/reconciliation`);
        await page.click('button:has-text("Run reconciliation now")');
        assert.match(await flash(page), /^reconciliation report \d+: \d+ finding\(s\)$/);
        assert.match((await page.locator('[data-testid=findings]').textContent()) ?? '', /^\d+ finding\(s\)$/);
        assert.equal(Number((await pool.query(`SELECT count(*) FROM satoshimachine.reconciliation_reports WHERE finished_at IS NOT NULL`)).rows[0].count), 1);

        // A form post without the CSRF token (or with a forged one) is refused and changes nothing.
        const depositsBefore = Number((await pool.query(`SELECT count(*) FROM satoshimachine.deposits`)).rows[0].count);
        const noToken = await page.request.post(`${base}/deposits`, { form: { clientId: maria.id, amount: '5.00' }, maxRedirects: 0 });
        assert.equal(noToken.status(), 403);
        const forged = await page.request.post(`${base}/deposits`, { form: { _csrf: 'forged', clientId: maria.id, amount: '5.00' }, maxRedirects: 0 });
        assert.equal(forged.status(), 403);
        assert.equal(Number((await pool.query(`SELECT count(*) FROM satoshimachine.deposits`)).rows[0].count), depositsBefore);

        // Emergency stop and resume with a reason, then pause the client.
        await page.goto(`${base}/emergency`);
        await page.fill('form[action="/emergency/stop"] input[name=reason]', 'drill');
        await page.click('button:has-text("Emergency stop")');
        assert.match(await flash(page), /EMERGENCY STOP: payouts ok/);
        assert.deepEqual((await pool.query(`SELECT payouts_halted, halted_by, halted_reason FROM satoshimachine.control`)).rows[0], { payouts_halted: true, halted_by: 'alice', halted_reason: 'drill' });
        await page.fill('form[action="/emergency/resume"] input[name=reason]', 'drill over');
        await page.click('button:has-text("Resume")');
        assert.match(await flash(page), /RESUMED: payouts ok/);
        assert.equal((await pool.query(`SELECT payouts_halted FROM satoshimachine.control`)).rows[0].payouts_halted, false);
        await page.goto(`${base}/clients`);
        await page.selectOption('tr[data-client="Maria Lopez"] select[name=status]', 'paused');
        await page.click('tr[data-client="Maria Lopez"] button:has-text("Set")');
        assert.match(await flash(page), /Maria Lopez: active → paused/);

        // Every action is in the audit trail under the operator's name.
        const { rows: events } = await pool.query(`SELECT action FROM satoshimachine.operator_events WHERE actor = 'alice' ORDER BY id`);
        const actions = new Set(events.map((e) => e.action));
        for (const a of ['console-login', 'client-added', 'deposit-added', 'deposit-confirmed', 'deposit-cancelled', 'statement-link-issued', 'statement-link-revoked', 'payouts-retried', 'alert-acknowledged', 'reconciliation-run', 'emergency-stop', 'emergency-resume', 'client-status']) {
          assert.ok(actions.has(a), `operator_events has ${a} by alice`);
        }

        // Log out: the pages ask for a login again. Then the login rate limit answers 429.
        await page.click('header button:has-text("Log out")');
        await page.goto(`${base}/`);
        assert.equal(new URL(page.url()).pathname, '/login');
        let limited = false;
        for (let i = 0; i < 12 && !limited; i++) {
          await page.goto(`${base}/login`);
          await page.fill('input[name=name]', OPERATOR.name);
          await page.fill('input[name=password]', 'not the password');
          const [answer] = await Promise.all([page.waitForResponse((r) => r.request().method() === 'POST'), page.click('button:has-text("Log in")')]);
          limited = answer.status() === 429;
        }
        assert.ok(limited, 'repeated logins are rate limited');
      } finally {
        await browser.close();
        await server.close();
        await worker.stop();
      }
    },
  );
});
