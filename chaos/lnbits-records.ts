/**
 * LNbits' own payment records, read two independent ways: its REST API with each wallet's key, and its
 * SQLite database opened READ-ONLY (`file:…?mode=ro`) with the python3 of LNbits' own venv — no native npm
 * dependency, and nothing we could write by mistake.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { z } from 'zod';
import { toolPaths } from '../config/temporal-dev';

export type LnbitsStatus = 'success' | 'pending' | 'failed';

/** One row of LNbits' apipayments: amount signed (negative = outgoing), in msat. */
export interface LnbitsRecord {
  walletId: string;
  paymentHash: string;
  checkingId: string;
  amountMsat: bigint;
  status: LnbitsStatus;
  memo: string | null;
  extra: Record<string, unknown>;
}

const statusOf = (s: unknown): LnbitsStatus => (s === 'success' ? 'success' : s === 'failed' ? 'failed' : 'pending');

const parseExtra = (v: unknown): Record<string, unknown> => {
  if (v && typeof v === 'object') return v as Record<string, unknown>;
  if (typeof v === 'string' && v) {
    try {
      const parsed: unknown = JSON.parse(v);
      return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {};
    }
  }
  return {};
};

const apiPayment = z.object({
  checking_id: z.string(),
  payment_hash: z.string(),
  wallet_id: z.string(),
  amount: z.number().int(),
  status: z.string(),
  memo: z.string().nullable().optional(),
  extra: z.unknown().optional(),
});

/** Every payment of one wallet through GET /api/v1/payments (its key; success and pending ones). */
export async function paymentsByApi(url: string, key: string): Promise<LnbitsRecord[]> {
  const out: LnbitsRecord[] = [];
  const page = 500;
  for (let offset = 0; ; offset += page) {
    const res = await fetch(`${url.replace(/\/+$/, '')}/api/v1/payments?limit=${page}&offset=${offset}`, { headers: { 'X-Api-Key': key }, signal: AbortSignal.timeout(30_000) });
    if (res.status !== 200) throw new Error(`GET /api/v1/payments: HTTP ${res.status}`);
    const list = z.array(apiPayment).parse(await res.json());
    for (const p of list) {
      out.push({ walletId: p.wallet_id, paymentHash: p.payment_hash, checkingId: p.checking_id, amountMsat: BigInt(p.amount), status: statusOf(p.status), memo: p.memo ?? null, extra: parseExtra(p.extra) });
    }
    if (list.length < page) return out;
  }
}

const PY = `
import json, sqlite3, sys
con = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True, timeout=30)
con.row_factory = sqlite3.Row
rows = con.execute('SELECT checking_id, payment_hash, wallet_id, amount, status, memo, extra FROM apipayments').fetchall()
json.dump([dict(r) for r in rows], sys.stdout)
`;

const dbRow = z.object({
  checking_id: z.string(),
  payment_hash: z.string(),
  wallet_id: z.string(),
  amount: z.number().int(),
  status: z.string().nullable(),
  memo: z.string().nullable(),
  extra: z.unknown(),
});

/** The LNbits venv's python3 (next to the `lnbits` script). */
export function lnbitsPython(): string {
  return process.env.LNBITS_PYTHON ?? path.join(path.dirname(toolPaths().lnbits), 'python3');
}

/** Every row of apipayments, from the SQLite file opened read-only (LNbits may keep running). */
export function paymentsByDatabase(dbFile: string): Promise<LnbitsRecord[]> {
  return new Promise((resolve, reject) => {
    execFile(lnbitsPython(), ['-c', PY, dbFile], { maxBuffer: 256 * 1024 * 1024, timeout: 60_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`reading ${dbFile} read-only: ${stderr || err.message}`));
      try {
        const rows = z.array(dbRow).parse(JSON.parse(stdout));
        resolve(rows.map((r) => ({ walletId: r.wallet_id, paymentHash: r.payment_hash, checkingId: r.checking_id, amountMsat: BigInt(r.amount), status: statusOf(r.status), memo: r.memo, extra: parseExtra(r.extra) })));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}
