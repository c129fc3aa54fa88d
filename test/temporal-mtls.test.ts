/**
 * mTLS to a self-hosted Temporal cluster: the real dev server behind a TLS-terminating proxy that requires a
 * client certificate signed by its CA. With the certificate (config files, or PEM text from the environment)
 * the real worker and the CLI get through and a cash-out is paid; without one, or with another CA's, the CLI is
 * refused with a clear error and the worker does not start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { startCashOut } from '../client/cashout';
import { loadConfig, type Config } from '../config';
import { temporalConnectOptions } from '../config/temporal-connection';
import { cashOutWorkflowId } from '../domain/constants';
import { createLogger } from '../log/logger';
import { runWorker } from '../worker/main';
import type { CashOutResult } from '../workflows/cashout';
import { cashOutRow, ledgerTransaction, walletSats, withCashOutWorld } from './support/cashout-fixture';
import { cliEnvFor, runCli } from './support/cli';
import { getStack } from './support/stack';
import { createTestPki, startTlsProxy } from './support/tls-proxy';

const log = createLogger({ level: process.env.LOG_LEVEL ?? 'silent', name: 'mtls' });

test('mTLS: with the client certificate the worker and the CLI pay a cash-out; without it they are refused', async (t) => {
  const pki = createTestPki();
  const proxy = await startTlsProxy(pki, getStack().temporal.address);
  try {
    await withCashOutWorld({ taskQueuePrefix: 'mtls', clients: 2, worker: false }, async ({ world: w }) => {
      const temporal = (over: Partial<Config['temporal']>): Config => ({ ...w.config, temporal: { ...w.config.temporal, address: proxy.address, tlsServerName: pki.serverName, tlsCaFile: pki.caFile, ...over } });
      const withCert = temporal({ tlsCertFile: pki.clientCertFile, tlsKeyFile: pki.clientKeyFile });

      // The worker through the proxy (files named in the config).
      const stop = new AbortController();
      let running!: () => void;
      const polling = new Promise<void>((r) => (running = r));
      const worker = runWorker(withCert, log, { signal: stop.signal, onRunning: () => running() });
      try {
        await Promise.race([polling, worker.then(() => assert.fail('the worker stopped before polling'))]);

        // A client through the proxy, the certificate as PEM text from the environment (TEMPORAL_TLS_*).
        const fromEnv = loadConfig({
          file: null,
          env: {
            TEMPORAL_ADDRESS: proxy.address, TEMPORAL_NAMESPACE: w.config.temporal.namespace, TEMPORAL_TLS_SERVER_NAME: pki.serverName,
            TEMPORAL_TLS_CA_FILE: pki.caFile, TEMPORAL_TLS_CERT: readFileSync(pki.clientCertFile, 'utf8'), TEMPORAL_TLS_KEY_FILE: pki.clientKeyFile,
          },
        });
        const connection = await Connection.connect(temporalConnectOptions(fromEnv.temporal));
        try {
          const client = new Client({ connection, namespace: fromEnv.temporal.namespace });
          const row = cashOutRow();
          await startCashOut(client, w.config, row);
          const result = (await client.workflow.getHandle(cashOutWorkflowId(row.id)).result()) as CashOutResult;
          assert.equal(result.status, 'completed');
          const tx = (await ledgerTransaction(w.db.pool, row.id))!;
          assert.equal(tx.status, 'completed');
          for (const c of w.clients) assert.equal(await walletSats(c.wallet), tx.payments.find((p) => p.clientId === c.id)!.amountSats, 'paid in LNbits');
        } finally {
          await connection.close();
        }

        // The CLI through the proxy: it reaches Temporal (no such poller: exit 4, not "unreachable").
        const pollerId = `poller-mtls-${randomBytes(4).toString('hex')}`;
        const ok = await runCli(['poller', 'status', '--json'], cliEnvFor(withCert, { SATMACHINE_POLLER_WORKFLOW_ID: pollerId }));
        assert.equal(ok.code, 4, ok.stderr);
        assert.match(ok.stderr, /poller not found/);

        const refusedBefore = proxy.refused;
        const noCert = await runCli(['poller', 'status', '--json'], cliEnvFor(temporal({}), { SATMACHINE_POLLER_WORKFLOW_ID: pollerId }));
        assert.equal(noCert.code, 3, 'unreachable');
        assert.match(noCert.stderr, /Temporal unreachable at .*: the server refused our TLS client certificate \(.*none configured/, noCert.stderr);
        t.diagnostic(`without a certificate: ${noCert.stderr.trim()}`);
        const stranger = await runCli(['poller', 'status', '--json'], cliEnvFor(temporal({ tlsCertFile: pki.strangerCertFile, tlsKeyFile: pki.strangerKeyFile }), { SATMACHINE_POLLER_WORKFLOW_ID: pollerId }));
        assert.equal(stranger.code, 3);
        assert.match(stranger.stderr, /the server refused our TLS client certificate/, stranger.stderr);
        t.diagnostic(`another CA's certificate: ${stranger.stderr.trim()}`);
        assert.ok(proxy.refused > refusedBefore, 'the proxy refused the handshakes');
      } finally {
        stop.abort();
        await worker.catch(() => undefined);
      }
      // A worker without the certificate does not start.
      await assert.rejects(runWorker(temporal({}), log), /Temporal at .*: the server refused our TLS client certificate/);
    });
  } finally {
    await proxy.close();
    pki.remove();
  }
});
