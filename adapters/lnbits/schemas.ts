import { z } from 'zod';

/** Shapes of the LNbits 1.6.2 answers we rely on (unknown fields are ignored). */

/** JSON numbers: msat amounts are exact only up to 2^53 msat (~90 000 BTC), so require safe integers. */
const safeInt = z.number().int().refine(Number.isSafeInteger, 'not a safe integer');
const hash = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 hex digits');

/** GET /api/v1/wallet. `id` comes only with an admin key. */
export const walletSchema = z.object({
  id: z.string().min(1).optional(),
  name: z.string(),
  balance: safeInt.nonnegative(),
});

/** 201 of POST /api/v1/payments (invoice created or payment made). */
export const paymentSchema = z.object({
  payment_hash: hash,
  bolt11: z.string().min(1),
  status: z.string(),
  amount: safeInt,
  fee: safeInt.default(0),
  wallet_id: z.string().min(1),
});

/** GET /api/v1/payments/{hash}. `details` only for a valid key (whose wallet owns the row). */
export const paymentStatusSchema = z.object({
  paid: z.boolean(),
  status: z.string().optional(),
  details: z
    .object({
      wallet_id: z.string().min(1),
      amount: safeInt,
      fee: safeInt,
      status: z.string(),
      memo: z.string().nullable(),
      extra: z.record(z.string(), z.unknown()).nullable().optional(),
    })
    .optional(),
});

/** A row of GET /api/v1/payments/paginated (LNbits' Payment model). `expiry`: ISO time, naive = UTC. */
export const paymentRowSchema = z.object({
  checking_id: z.string().min(1),
  payment_hash: hash,
  wallet_id: z.string().min(1),
  amount: safeInt,
  fee: safeInt,
  bolt11: z.string(),
  status: z.enum(['success', 'pending', 'failed']),
  expiry: z
    .string()
    .nullable()
    .optional()
    .transform((v, ctx) => {
      if (!v) return null;
      const t = Date.parse(/[zZ]|[+-]\d\d:?\d\d$/.test(v) ? v : `${v}Z`);
      if (Number.isNaN(t)) {
        ctx.addIssue({ code: 'custom', message: 'not a date' });
        return z.NEVER;
      }
      return new Date(t).toISOString();
    }),
});

export const paymentListSchema = z.object({ data: z.array(paymentRowSchema), total: safeInt.nonnegative() });

/** 520 body of a PaymentError / InvoiceError. */
export const paymentErrorSchema = z.object({ detail: z.string(), status: z.string() });

/** PUT /users/api/v1/balance. */
export const simpleStatusSchema = z.object({ success: z.boolean(), message: z.string() });

/** GET /users/api/v1/user/{user_id}/wallet (superuser/admin bearer token): the user's wallets, deleted ones too. */
export const userWalletsSchema = z.array(
  z.object({ id: z.string().min(1), user: z.string().min(1), name: z.string(), inkey: z.string().min(1), deleted: z.boolean().default(false) }),
);
