/**
 * HTTP client for LNbits 1.6.2 (verified against the installed source and a live FakeWallet instance).
 * Keys are passed per call and only ever placed in request headers; every answer goes through zod.
 * Amounts: sats are safe integers, msat are bigint.
 */
import { z } from 'zod';
import { AmountError } from '../../domain/errors';
import { LnbitsAuthError, LnbitsInsufficientBalanceError, LnbitsRejectedError, LnbitsResponseError, LnbitsTransientError } from './errors';
import { paymentErrorSchema, paymentListSchema, paymentSchema, paymentStatusSchema, simpleStatusSchema, userWalletsSchema, walletSchema } from './schemas';
import { lnbitsEndpoint, scrubSecrets } from './url';

export interface LnbitsClientOptions {
  url: string;
  /** Per request; a timed-out payment is reported as outcome 'unknown', never as paid or failed. */
  timeoutMs?: number;
}

export interface WalletInfo {
  /** Only an admin key reveals the wallet id; null for an invoice key. */
  id: string | null;
  name: string;
  balanceMsat: bigint;
}

export type PayOutcome =
  | { kind: 'paid'; paymentHash: string; feeMsat: bigint; amountMsat: bigint }
  | { kind: 'pending'; paymentHash: string | null; detail: string }
  /** LNbits says nothing was paid (bad invoice, amountless, …). */
  | { kind: 'failed'; detail: string }
  /** Outcome not known (timeout, 5xx, "Internal invoice already paid."): ask getPayment with the payer's key. */
  | { kind: 'unknown'; detail: string };

/** A payment row of the key's own wallet (LNbits keeps two rows per internal payment, one per wallet). */
export interface PaymentStatus {
  paid: boolean;
  /** 'success' | 'pending' | 'failed' */
  status: string;
  walletId: string;
  /** Negative for the payer's row. */
  amountMsat: bigint;
  feeMsat: bigint;
  memo: string | null;
  extra: Record<string, unknown>;
}

type Auth = { apiKey: string } | { bearer: string };
interface Answer { status: number; path: string; json: unknown; detail: string | undefined }

function secretOf(auth: Auth): string {
  return 'apiKey' in auth ? auth.apiKey : auth.bearer;
}

/** LNbits' `detail` (string or validation list), shortened, with the caller's secrets removed just in case. */
function detailOf(json: unknown, text: string, secrets: readonly string[]): string | undefined {
  const raw = json && typeof json === 'object' && 'detail' in json ? (json as { detail: unknown }).detail : undefined;
  const d = typeof raw === 'string' ? raw : raw !== undefined ? JSON.stringify(raw) : text.trim() || undefined;
  return d === undefined ? undefined : redact(d, secrets);
}

/** Scrub first, then shorten: a secret cut in half by the slice would no longer be found. */
function redact(text: string, secrets: readonly string[]): string {
  return scrubSecrets(text, secrets).slice(0, 300);
}

/**
 * A row of the key's wallet, as the payments list shows it (read only: see paymentRows). `amountMsat` is
 * negative for an outgoing row.
 */
export interface PaymentRecord {
  paymentHash: string;
  checkingId: string;
  walletId: string;
  amountMsat: bigint;
  feeMsat: bigint;
  bolt11: string;
  /** 'success' | 'pending' | 'failed' */
  status: string;
  expiry: Date | null;
}

function requirePositiveSats(value: number, field: string): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new AmountError(field, `expected a positive whole number of sats, got ${String(value)}`);
}

const creditListSchema = z.array(
  z.object({ payment_hash: z.string().regex(/^[0-9a-f]{64}$/), memo: z.string().nullable().default(null), amount: z.number().int(), status: z.string(), time: z.string() }),
);

export function createLnbitsClient(opts: LnbitsClientOptions) {
  const { base, basicAuth, secrets: urlSecrets } = lnbitsEndpoint(opts.url);
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const secretsOf = (auth: Auth) => [secretOf(auth), ...urlSecrets];

  async function call(method: string, path: string, auth: Auth, body?: unknown): Promise<Answer> {
    // fetch would reject such a header with the value in its message.
    if (!/^[\x21-\x7e]*$/.test(secretOf(auth))) throw new LnbitsAuthError({ path, detail: 'key or token is not a valid header value' });
    // LNbits authenticates by X-Api-Key; the Authorization header is free for the URL's basic-auth credentials
    // (a bearer token, used only by the superuser credit, takes it over).
    const headers: Record<string, string> = 'apiKey' in auth ? { 'X-Api-Key': auth.apiKey, ...(basicAuth ? { Authorization: basicAuth } : {}) } : { Authorization: `Bearer ${auth.bearer}` };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let res: Response;
    let text: string;
    try {
      res = await fetch(base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        // A fresh instance redirects to /first_install; never follow into HTML.
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      // Network errors name host:port; an invalid header value would be echoed, so redact the secret too.
      const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
      const raw = e.name === 'TimeoutError' ? `timeout after ${timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message ?? 'network error');
      throw new LnbitsTransientError({ path, detail: redact(raw, secretsOf(auth)) });
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, path, json, detail: detailOf(json, text, secretsOf(auth)) };
  }

  /** Non-2xx answers of the non-payment endpoints. */
  function toError(a: Answer): Error {
    const info = { status: a.status, path: a.path, detail: a.detail };
    if (a.status === 401 || a.status === 403 || (a.status === 404 && a.detail === 'Wallet not found.')) return new LnbitsAuthError(info);
    if (a.status === 520 && paymentErrorSchema.safeParse(a.json).success) return new LnbitsRejectedError(info);
    if (a.status >= 500 || a.status === 429) return new LnbitsTransientError(info);
    if (a.status >= 400) return new LnbitsRejectedError(info);
    return new LnbitsResponseError({ ...info, detail: a.detail ?? 'unexpected status' });
  }

  function parse<T extends z.ZodType>(schema: T, a: Answer): z.infer<T> {
    const r = schema.safeParse(a.json);
    if (r.success) return r.data;
    const issue = r.error.issues[0];
    throw new LnbitsResponseError({ status: a.status, path: a.path, field: issue?.path.join('.') || '(body)', detail: issue?.message });
  }

  return {
    /** GET /api/v1/wallet (invoice or admin key). */
    async getWallet(key: string): Promise<WalletInfo> {
      const a = await call('GET', '/api/v1/wallet', { apiKey: key });
      if (a.status !== 200) throw toError(a);
      const w = parse(walletSchema, a);
      return { id: w.id ?? null, name: w.name, balanceMsat: BigInt(w.balance) };
    },

    /**
     * POST /api/v1/payments {out:false, internal:true}: an invoice settled inside LNbits, no funding source
     * involved. `expirySeconds` absent: LNbits' default (lightning_invoice_expiry, 3600 s). LNbits 1.6.2 does
     * not refuse to pay an expired internal invoice: it marks it failed (then unpayable) only when its
     * incoming row is looked at (GET /api/v1/payments/{hash} with the recipient's key) after the expiry.
     */
    async createInvoice(
      invoiceKey: string,
      p: { amountSats: number; memo: string; extra?: Record<string, unknown>; expirySeconds?: number },
    ): Promise<{ paymentHash: string; bolt11: string }> {
      requirePositiveSats(p.amountSats, 'amountSats');
      if (p.expirySeconds !== undefined && (!Number.isSafeInteger(p.expirySeconds) || p.expirySeconds <= 0)) {
        throw new AmountError('expirySeconds', `expected a positive whole number of seconds, got ${String(p.expirySeconds)}`);
      }
      const a = await call('POST', '/api/v1/payments', { apiKey: invoiceKey }, {
        out: false, amount: p.amountSats, unit: 'sat', memo: p.memo, extra: p.extra ?? {}, internal: true,
        ...(p.expirySeconds === undefined ? {} : { expiry: p.expirySeconds }),
      });
      if (a.status !== 201) throw toError(a);
      const inv = parse(paymentSchema, a);
      if (inv.amount !== p.amountSats * 1000) throw new LnbitsResponseError({ status: a.status, path: a.path, field: 'amount', detail: `expected ${p.amountSats * 1000} msat, got ${inv.amount}` });
      return { paymentHash: inv.payment_hash, bolt11: inv.bolt11 };
    },

    /**
     * POST /api/v1/payments {out:true, bolt11} with the payer's admin key. Never throws for an ambiguous
     * outcome; throws only LnbitsAuthError (bad key) and LnbitsInsufficientBalanceError (nothing paid).
     */
    async payInvoice(adminKey: string, bolt11: string): Promise<PayOutcome> {
      let a: Answer;
      try {
        a = await call('POST', '/api/v1/payments', { apiKey: adminKey }, { out: true, bolt11 });
      } catch (err) {
        if (err instanceof LnbitsAuthError) throw err;
        return { kind: 'unknown', detail: (err as Error).message };
      }
      const where = `${a.status} ${a.path}`;
      if (a.status === 201) {
        const p = paymentSchema.safeParse(a.json);
        // 201 means LNbits accepted the payment; an unreadable body must not turn that into "failed".
        if (!p.success) return { kind: 'unknown', detail: `${where}: unreadable answer` };
        if (p.data.status === 'success') return { kind: 'paid', paymentHash: p.data.payment_hash, feeMsat: BigInt(Math.abs(p.data.fee)), amountMsat: BigInt(p.data.amount) };
        if (p.data.status === 'pending') return { kind: 'pending', paymentHash: p.data.payment_hash, detail: where };
        if (p.data.status === 'failed') return { kind: 'failed', detail: `${where}: status failed` };
        return { kind: 'unknown', detail: `${where}: status ${p.data.status}` };
      }
      if (a.status === 401 || a.status === 403 || (a.status === 404 && a.detail === 'Wallet not found.')) throw toError(a);
      const pe = paymentErrorSchema.safeParse(a.json);
      if (a.status === 520 && pe.success) {
        const { detail, status } = pe.data;
        if (detail === 'Insufficient balance.') throw new LnbitsInsufficientBalanceError({ status: a.status, path: a.path, detail });
        // Raised before anything is paid, but also when *we* paid it before (a retry): the caller decides via getPayment.
        if (detail === 'Internal invoice already paid.' || status === 'success') return { kind: 'unknown', detail: `${where}: ${detail}` };
        if (status === 'pending') return { kind: 'pending', paymentHash: null, detail: `${where}: ${detail}` };
        return { kind: 'failed', detail: `${where}: ${detail}` };
      }
      // 400/422: the request was refused before any payment; 5xx and anything else: unknown.
      if (a.status === 400 || a.status === 422) return { kind: 'failed', detail: `${where}: ${a.detail ?? ''}` };
      return { kind: 'unknown', detail: `${where}: ${a.detail ?? ''}` };
    },

    /** GET /api/v1/payments/{hash}: the key's wallet's row with this hash, or null (404). */
    async getPayment(key: string, paymentHash: string): Promise<PaymentStatus | null> {
      if (!/^[0-9a-f]{64}$/.test(paymentHash)) throw new LnbitsRejectedError({ path: '/api/v1/payments/{hash}', detail: 'payment hash must be 64 lowercase hex digits' });
      const a = await call('GET', `/api/v1/payments/${paymentHash}`, { apiKey: key });
      if (a.status === 404 && a.detail === 'Payment does not exist.') return null;
      if (a.status !== 200) throw toError(a);
      const s = parse(paymentStatusSchema, a);
      // A valid key restricts the lookup to its wallet and always gets `details`; an unknown key gets the
      // public {paid} of *any* row with this hash, which must not be mistaken for our payment's status.
      if (!s.details) throw new LnbitsAuthError({ status: a.status, path: '/api/v1/payments/{hash}', detail: 'unknown key (LNbits answered without details)' });
      const d = s.details;
      return { paid: s.paid, status: d.status, walletId: d.wallet_id, amountMsat: BigInt(d.amount), feeMsat: BigInt(d.fee), memo: d.memo, extra: d.extra ?? {} };
    },

    /**
     * GET /users/api/v1/user/{userId}/wallet with an admin/superuser bearer token (LNbits 1.6.2 users API): the
     * user's wallets with their keys (deleted ones too, flagged), or null when LNbits knows no such user.
     * Only the invoice key is kept. A token restricted by an ACL without write access gets masked keys
     * ("****…"), which are refused here as not a key.
     */
    async getUserWallets(superuserToken: string, userId: string): Promise<Array<{ id: string; name: string; invoiceKey: string; deleted: boolean }> | null> {
      const a = await call('GET', `/users/api/v1/user/${encodeURIComponent(userId)}/wallet`, { bearer: superuserToken });
      if (a.status === 404) return null;
      if (a.status !== 200) throw toError(a);
      const wallets = parse(userWalletsSchema, a).filter((w) => w.user === userId);
      if (wallets.some((w) => /^\*+$/.test(w.inkey))) throw new LnbitsAuthError({ status: a.status, path: a.path, detail: 'the token may not read wallet keys (LNbits masked them)' });
      return wallets.map((w) => ({ id: w.id, name: w.name, invoiceKey: w.inkey, deleted: w.deleted }));
    },

    /**
     * The key's wallet's rows with this payment hash, READ ONLY. GET /api/v1/payments/{hash} is not: for a
     * pending row LNbits 1.6.2 runs update_pending_payment (an expired incoming invoice is marked failed; any
     * other is re-checked with the funding source, and FakeWallet after a restart answers "failed"). The
     * paginated list with recheck_pending=false only reads (core/views/payment_api.py, api_payments_paginated)
     * and, unlike GET /api/v1/payments, includes failed rows. Payment hash is not a filter field there, the
     * checking id is: an invoice's row has checking_id = hash, the payer's internal row `internal_<hash>`.
     */
    async paymentRows(key: string, paymentHash: string): Promise<PaymentRecord[]> {
      if (!/^[0-9a-f]{64}$/.test(paymentHash)) throw new LnbitsRejectedError({ path: '/api/v1/payments/paginated', detail: 'payment hash must be 64 lowercase hex digits' });
      const q = new URLSearchParams({ 'checking_id[in]': `${paymentHash},internal_${paymentHash}`, recheck_pending: 'false', limit: '10' });
      const a = await call('GET', `/api/v1/payments/paginated?${q.toString()}`, { apiKey: key });
      if (a.status !== 200) throw toError({ ...a, path: '/api/v1/payments/paginated' });
      const page = parse(paymentListSchema, { ...a, path: '/api/v1/payments/paginated' });
      return page.data
        .filter((r) => r.payment_hash === paymentHash)
        .map((r) => ({
          paymentHash: r.payment_hash, checkingId: r.checking_id, walletId: r.wallet_id, amountMsat: BigInt(r.amount), feeMsat: BigInt(r.fee),
          bolt11: r.bolt11, status: r.status, expiry: r.expiry ? new Date(r.expiry) : null,
        }));
    },

    /**
     * The wallet's superuser credits ("Admin credit" incoming rows, LNbits 1.6.2's PUT /users/api/v1/balance) of
     * exactly `amountSats`, newest first (GET /api/v1/payments, filtered by memo and amount, checked again here).
     */
    async listAdminCredits(key: string, amountSats: number): Promise<Array<{ paymentHash: string; at: Date; status: string }>> {
      requirePositiveSats(amountSats, 'amountSats');
      const q = new URLSearchParams({ memo: 'Admin credit', amount: String(amountSats * 1000), limit: '500', sortby: 'time', direction: 'desc' });
      const a = await call('GET', `/api/v1/payments?${q.toString()}`, { apiKey: key });
      if (a.status !== 200) throw toError(a);
      const list = parse(creditListSchema, a);
      return list
        .filter((p) => p.memo === 'Admin credit' && p.amount === amountSats * 1000)
        .map((p) => ({ paymentHash: p.payment_hash, status: p.status, at: new Date(/[zZ]|[+-]\d\d:?\d\d$/.test(p.time) ? p.time : `${p.time}Z`) }));
    },

    /** PUT /users/api/v1/balance {id, amount (sats)} with a superuser bearer token: mints sats into a wallet. */
    async creditWallet(superuserToken: string, walletId: string, amountSats: number): Promise<void> {
      requirePositiveSats(amountSats, 'amountSats');
      const a = await call('PUT', '/users/api/v1/balance', { bearer: superuserToken }, { id: walletId, amount: amountSats });
      if (a.status !== 200) throw toError(a);
      const r = parse(simpleStatusSchema, a);
      if (!r.success) throw new LnbitsResponseError({ status: a.status, path: a.path, field: 'success', detail: r.message });
    },
  };
}

export type LnbitsClient = ReturnType<typeof createLnbitsClient>;
