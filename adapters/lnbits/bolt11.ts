/**
 * What a BOLT 11 invoice says about itself, decoded by the `bolt11` library (bitcoinjs): the bech32 checksum
 * is verified, the signature is checked by recovering the payee's node key from it (and compared with the
 * `n` field when the invoice carries one). A string that fails any of this is not an invoice we can pay.
 * Amount in msat (exact: from the human-readable part, never a float), payment hash, timestamp and expiry
 * (`x` field, 3600 s when absent, as BOLT 11 says).
 */
import bolt11 from 'bolt11';
import { LnbitsResponseError } from './errors';

const DEFAULT_EXPIRY_SECONDS = 3600;

export interface Bolt11Info {
  /** null for an amountless invoice (never paid by us). */
  amountMsat: bigint | null;
  paymentHash: string | null;
  /** The node that signed it (recovered from the signature). */
  payeeNodeKey: string;
  createdAt: Date;
  expirySeconds: number;
  expiresAt: Date;
}

const fail = (detail: string): never => {
  throw new LnbitsResponseError({ path: 'bolt11', field: 'bolt11', detail });
};

export function decodeBolt11(invoice: string): Bolt11Info {
  let d: ReturnType<typeof bolt11.decode>;
  try {
    d = bolt11.decode(invoice);
  } catch (err) {
    // The library's messages name what failed (checksum, signature, prefix); they never contain a secret.
    return fail(`not a valid BOLT 11 invoice (${(err as Error).message.slice(0, 80)})`);
  }
  const tag = (name: string) => d.tags.find((t) => t.tagName === name)?.data;
  const paymentHash = tag('payment_hash');
  const expiry = tag('expire_time');
  const timestamp = d.timestamp ?? fail('no timestamp');
  const expirySeconds = typeof expiry === 'number' ? expiry : DEFAULT_EXPIRY_SECONDS;
  if (!d.payeeNodeKey) fail('no signature');
  return {
    amountMsat: d.millisatoshis ? BigInt(d.millisatoshis) : null,
    paymentHash: typeof paymentHash === 'string' ? paymentHash.toLowerCase() : null,
    payeeNodeKey: d.payeeNodeKey!,
    createdAt: new Date(timestamp * 1000),
    expirySeconds,
    expiresAt: new Date((timestamp + expirySeconds) * 1000),
  };
}
