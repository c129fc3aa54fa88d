import { z } from 'zod';

/**
 * The one configuration shape shared by worker, client, sandbox and tests.
 * Secrets (LNbits keys, SSH key, DB passwords inside URLs) live here only in memory:
 * they come from the environment or from files and are redacted by the logger.
 */
const port = z.coerce.number().int().min(1).max(65535);
const positiveInt = z.coerce.number().int().positive();

export const temporalSchema = z.object({
  address: z.string().min(1).default('127.0.0.1:7233'),
  namespace: z.string().min(1).default('default'),
  taskQueue: z.string().min(1).default('satmachine'),
  /** Temporal Cloud / TLS deployments (implied by any of the TLS settings below). */
  tls: z.boolean().default(false),
  apiKey: z.string().min(1).optional(),
  /**
   * mTLS to a self-hosted cluster: the client certificate and its key, the CA that signed the server's
   * certificate (default: the system's CAs) and the name the server's certificate is checked against.
   * Each as PEM text (TEMPORAL_TLS_CERT …, or TEMPORAL_TLS_CERT_FILE …) or as a path in the config file (…File).
   */
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  tlsCa: z.string().min(1).optional(),
  tlsCertFile: z.string().min(1).optional(),
  tlsKeyFile: z.string().min(1).optional(),
  tlsCaFile: z.string().min(1).optional(),
  tlsServerName: z.string().min(1).optional(),
});

export const lnbitsWalletSchema = z.object({
  id: z.string().min(1).optional(),
  adminKey: z.string().min(1).optional(),
  invoiceKey: z.string().min(1).optional(),
});

/** 127.0.0.0/8, ::1 and localhost: plain http there never leaves the machine. */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

export const lnbitsSchema = z.object({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).default('http://127.0.0.1:5000'),
  /**
   * LNBITS_ALLOW_INSECURE_HTTP: accept a plain http:// URL to a host other than this machine. The admin key
   * then crosses the network in clear text: only for a private link the operator trusts (WireGuard, …).
   */
  allowInsecureHttp: z.boolean().default(false),
  /** The wallet that receives the ATM's sats and pays the clients. */
  source: lnbitsWalletSchema.default({}),
  /** The operator's commission wallet. */
  commission: lnbitsWalletSchema.default({}),
  /** Only for funding mode superuser-credit: bearer token of an LNbits superuser. */
  superuserToken: z.string().min(1).optional(),
  requestTimeoutMs: positiveInt.default(10_000),
  /**
   * Expiry of the payout invoices we create (LNbits' own default is 1 h). Short (10 min): a debit is given
   * back only once LNbits proves the payout's invoice unpayable, which needs it expired (activities/payout-proof.ts);
   * a pending payout's expired, failed invoice is replaced by a fresh one on its next attempt.
   */
  invoiceExpirySeconds: positiveInt.default(600),
}).superRefine((l, ctx) => {
  // The message names the rule, never the URL (it may hold credentials).
  const u = new URL(l.url);
  if (u.protocol === 'http:' && !isLoopbackHost(u.hostname) && !l.allowInsecureHttp) {
    ctx.addIssue({ code: 'custom', path: ['url'], message: 'plain http:// to a non-loopback host would send the LNbits keys in clear text: use https://, or set lnbits.allowInsecureHttp (LNBITS_ALLOW_INSECURE_HTTP=true) for a trusted private link' });
  }
});

export const sshSchema = z.object({
  host: z.string().min(1),
  port: port.default(22),
  username: z.string().min(1),
  /** PEM/OpenSSH private key text (from SATMACHINE_SSH_PRIVATE_KEY or ..._FILE). */
  privateKey: z.string().min(1),
  /** Pinned host key, `SHA256:<base64>` as printed by ssh-keygen -lf. No accept-any mode exists. */
  hostKeySha256: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'expected SHA256:<base64 fingerprint>'),
  keepaliveIntervalMs: positiveInt.default(15_000),
  readyTimeoutMs: positiveInt.default(15_000),
});

export const lamassuSchema = z.object({
  mode: z.enum(['ssh', 'direct']).default('direct'),
  /** Connection string of Lamassu's PostgreSQL as seen from the SSH server (ssh mode) or from here (direct). */
  databaseUrl: z.string().min(1).default('postgres://postgres@127.0.0.1:5432/lamassu'),
  ssh: sshSchema.optional(),
  fiatCode: z.string().regex(/^[A-Z]{3}$/).default('GTQ'),
  /** Minor units per whole fiat unit as a power of ten (GTQ: 2 → centavos). */
  fiatDecimals: z.coerce.number().int().min(0).max(5).default(2),
  lookbackHours: positiveInt.default(72),
  /**
   * Cash-outs confirmed before this instant are never paid, whatever the look-back: set it when this
   * system replaces one that already paid the older cash-outs (e.g. the satmachineadmin extension).
   */
  payFrom: z.iso.datetime({ offset: true }).optional(),
  pollIntervalSeconds: positiveInt.default(60),
  statementTimeoutMs: positiveInt.default(15_000),
  /** Poller continues-as-new after this many polls to keep its history short. */
  pollsPerRun: positiveInt.default(200),
});

export const alertsSchema = z.object({
  webhookUrl: z.url().optional(),
  webhookTimeoutMs: positiveInt.default(5_000),
  smtpUrl: z.string().min(1).optional(),
  emailTo: z.string().min(1).optional(),
  emailFrom: z.string().min(1).default('satmachine@localhost'),
  quietPeriodMinutes: positiveInt.default(60),
  /** An unacknowledged critical alert is sent to the channels again after this long (and every this long). */
  renotifyCriticalMinutes: positiveInt.default(60),
  /** Lamassu fetches failing without a success for this long raise `poll-failing` (default 3 min: alerted within ~4 min). */
  pollFailureAlertSeconds: positiveInt.default(180),
  stuckPayoutMinutes: positiveInt.default(15),
  stuckPayoutCriticalHours: positiveInt.default(2),
  maxPollDelayHours: positiveInt.default(24),
  maxBalanceDiscrepancySats: z.coerce.number().int().min(0).default(100),
  /** Stored vs derived client balance (fiat minor units). The ledger is exact integers: any difference is a fault. */
  maxBalanceDiscrepancyFiatMinor: z.coerce.number().int().min(0).default(0),
  /** Deposits pending longer than this are reported by the reconciliation (runbook: 48 h). */
  pendingDepositHours: positiveInt.default(48),
  /** Webhook delivery: attempts in all (first + retries) and the back-off before the first retry (doubles). */
  webhookAttempts: positiveInt.default(3),
  webhookBackoffMs: positiveInt.default(500),
  emailTimeoutMs: positiveInt.default(10_000),
  /** Alerts below this severity go to pino and the alerts table only, not to webhook/e-mail. */
  channelMinSeverity: z.enum(['info', 'medium', 'high', 'critical']).default('medium'),
  /** Per-kind severity overrides of the runbook's defaults (adapters/alerts/severity.ts), e.g. {"lamassu-unreachable": "high"}. */
  severities: z.record(z.string(), z.enum(['info', 'medium', 'high', 'critical'])).default({}),
});

/** The web console (console/): client statements and the operator pages. */
export const consoleSchema = z.object({
  /** 127.0.0.1 by default: the console sits behind the operator's TLS reverse proxy (docs/runbook.md). */
  host: z.string().min(1).default('127.0.0.1'),
  port: z.coerce.number().int().min(0).max(65535).default(8080),
  /** The address clients and operators use (the reverse proxy's https URL); statement links are built on it. */
  publicUrl: z.url().optional(),
  /**
   * Behind a TLS reverse proxy: cookies get the Secure flag and X-Forwarded-* is trusted from the proxy.
   * Default: true when publicUrl is https.
   */
  behindTls: z.boolean().optional(),
  /** Operators who may log in: scrypt hashes made by `satmachine console hash-password`. */
  operators: z.array(z.object({ name: z.string().trim().min(1), passwordHash: z.string().regex(/^scrypt\$/, 'expected a hash from `satmachine console hash-password`') })).default([]),
  sessionHours: positiveInt.default(12),
  /** Failed and successful logins allowed per client address per minute. */
  loginAttemptsPerMinute: positiveInt.default(5),
  /** Temporal Web UI base URL for the cash-out workflow links (e.g. http://127.0.0.1:8233). */
  temporalUiUrl: z.url().optional(),
});

/**
 * What a cash-out must pass before money moves (workflows/cashout-hold.ts). A failing cash-out is HELD for the
 * operator (`satmachine tx approve|reject`), never paid silently. Amounts: sats as integers, fiat in whole
 * units of lamassu.fiatCode as decimal text (defaults sized for one GTQ ATM).
 */
export const cashOutChecksSchema = z.object({
  /**
   * The record step re-reads the row by id from Lamassu and refuses a workflow input that is not there,
   * differs or is not final. Only tests that start workflows without a Lamassu database turn it off.
   */
  verifyInLamassu: z.boolean().default(true),
  /** Price band, caps and the other plausibility checks (off only in tests with made-up amounts). */
  plausibility: z.boolean().default(true),
  /** crypto_atoms may differ by this many percent from what the ticker (less commission) buys for the fiat. */
  priceBandPercent: z.coerce.number().int().min(1).max(100).default(10),
  /** Recent cash-outs whose median price stands in for a missing raw_ticker_price. */
  referenceCashOuts: positiveInt.default(10),
  maxCashOutSats: positiveInt.default(5_000_000),
  maxCashOutFiat: z.string().regex(/^\d{1,12}$/, 'expected whole fiat units').default('20000'),
  maxDailySats: positiveInt.default(30_000_000),
  maxDailyFiat: z.string().regex(/^\d{1,12}$/, 'expected whole fiat units').default('150000'),
  /** Lamassu's clock may run ahead of ours by this much before confirmed_at counts as "in the future". */
  clockSkewSeconds: positiveInt.default(300),
  /** Rows Lamassu counts as dispensed (error IS NULL AND dispense) but not payable after this long are alerted. */
  dispensedNotFinalHours: positiveInt.default(24),
});

/** Fault recovery of the cash-out payouts (issue 19). */
export const payoutsSchema = z.object({
  /** A transfer keeps trying through an outage of LNbits or the ledger this long (minutes) before the payout stage fails. */
  outageRetryMinutes: positiveInt.default(360),
  /** Longest pause between two rounds of a transfer's attempts during an outage (seconds). */
  outageBackoffMaxSeconds: positiveInt.default(60),
  /** The stuck-payout sweep starts a recovery run for a cash-out whose workflow is gone (else it only alerts). */
  autoResume: z.boolean().default(true),
  /** A cash-out's workflow counts as gone only after its ledger row has not changed for this long (minutes). */
  orphanAfterMinutes: positiveInt.default(5),
});

/**
 * How large one cash-out may be (issue 15): every client's payout travels through the workflow (allocation,
 * reservation result, `status` query, workflow result), and Temporal refuses a payload over 2 MB. A larger
 * allocation is refused up front (CashOutTooLargeError) instead of failing halfway. See docs/performance.md.
 */
export const cashOutLimitsSchema = z.object({
  /** Clients (allocation lines) per cash-out. */
  maxClients: positiveInt.default(3000),
  /** Serialized allocation (JSON bytes), well under Temporal's 2 MB payload limit. */
  maxAllocationBytes: positiveInt.default(1_000_000),
});

export const configSchema = z.object({
  temporal: temporalSchema.default(temporalSchema.parse({})),
  /** The ledger (our own PostgreSQL). When absent the sandbox/test harness starts one. */
  databaseUrl: z.string().min(1).optional(),
  lnbits: lnbitsSchema.default(lnbitsSchema.parse({})),
  lamassu: lamassuSchema.default(lamassuSchema.parse({})),
  commissionModel: z.enum(['runbook', 'lamassu-ticker']).default('runbook'),
  cashOutChecks: cashOutChecksSchema.default(cashOutChecksSchema.parse({})),
  fundingMode: z.enum(['prefunded', 'superuser-credit']).default('prefunded'),
  payoutConcurrency: positiveInt.default(4),
  cashOutLimits: cashOutLimitsSchema.default(cashOutLimitsSchema.parse({})),
  payouts: payoutsSchema.default(payoutsSchema.parse({})),
  /** Used to encrypt client invoice keys at rest (32+ chars). */
  encryptionKey: z.string().min(32).optional(),
  alerts: alertsSchema.default(alertsSchema.parse({})),
  /**
   * The commission-wallet check of the reconciliation: the wallet's balance must equal Σ completed commission
   * payouts since reconcileSince (absent: since the beginning — right for a wallet that only ever receives our
   * commission). Set reconcileSince to the last time the wallet was emptied or funded otherwise.
   */
  reconcileSince: z.iso.datetime({ offset: true }).optional(),
  /** On by default (issue 13); false turns the commission-wallet check off (e.g. a shared commission wallet). */
  reconcileCommissionWallet: z.boolean().default(true),
  log: z.object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') }).default({ level: 'info' }),
  metricsPort: port.optional(),
  /** The worker's operations endpoint (/healthz, /readyz, /metrics), `host:port`; off when absent. */
  httpAddress: z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port').optional(),
  /** /readyz is not ready when the poller's last successful poll is older than this (default: 3 poll intervals + 2 min). */
  readyMaxPollAgeSeconds: positiveInt.optional(),
  /** On SIGTERM/SIGINT running activities get this long to finish before they are cancelled. */
  shutdownGraceSeconds: positiveInt.default(60),
  /**
   * Workflows the worker keeps in memory between tasks (Temporal's sticky cache). The SDK derives its default
   * from V8's heap limit: ≈ 2 300 with Node's default limit on a large machine (memory grows with every
   * cash-out in flight), 10 under the production heap cap (worker/node-options.ts; cache misses replay
   * histories). 250 covers the cash-outs in flight of a busy day; an evicted one is replayed, never lost.
   */
  maxCachedWorkflows: z.coerce.number().int().min(2).max(10_000).default(250),
  console: consoleSchema.default(consoleSchema.parse({})),
});

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
