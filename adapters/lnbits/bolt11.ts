/**
 * What a BOLT 11 invoice says about itself: when it expires — its timestamp (the first 35 bits of the data
 * part) plus its `x` field (expiry in seconds, 3600 when absent, as BOLT 11 says) — and its payment hash
 * (`p` field). Only these are decoded; the checksum and signature are not checked (the invoice is one LNbits
 * gave us and the ledger stored).
 */
import { LnbitsResponseError } from './errors';

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const SIGNATURE_WORDS = 104; // 65 bytes
const CHECKSUM_CHARS = 6;
const TAG_EXPIRY = 6; // 'x'
const TAG_PAYMENT_HASH = 1; // 'p'
const DEFAULT_EXPIRY_SECONDS = 3600;

const fail = (detail: string): never => {
  throw new LnbitsResponseError({ path: 'bolt11', field: 'bolt11', detail });
};

function words(bolt11: string): number[] {
  const lower = bolt11.toLowerCase();
  const sep = lower.lastIndexOf('1');
  if (!lower.startsWith('ln') || sep < 0) fail('not a BOLT 11 invoice');
  const out: number[] = [];
  for (const ch of lower.slice(sep + 1, lower.length - CHECKSUM_CHARS)) {
    const v = CHARSET.indexOf(ch);
    if (v < 0) fail('invalid bech32 character');
    out.push(v);
  }
  return out;
}

const toInt = (ws: number[]): number => ws.reduce((n, w) => n * 32 + w, 0);

/** 5-bit words → bytes (the trailing padding bits dropped), as hex. */
function wordsToHex(ws: number[]): string {
  let acc = 0;
  let bits = 0;
  let hex = '';
  for (const w of ws) {
    acc = ((acc << 5) | w) & 0xfff;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      hex += ((acc >> bits) & 0xff).toString(16).padStart(2, '0');
    }
  }
  return hex;
}

export interface Bolt11Info {
  createdAt: Date;
  expirySeconds: number;
  expiresAt: Date;
  paymentHash: string | null;
}

export function decodeBolt11(bolt11: string): Bolt11Info {
  const data = words(bolt11);
  const end = data.length - SIGNATURE_WORDS;
  if (end < 7) fail('invoice too short');
  const timestamp = toInt(data.slice(0, 7));
  let expirySeconds = DEFAULT_EXPIRY_SECONDS;
  let paymentHash: string | null = null;
  for (let i = 7; i + 3 <= end; ) {
    const tag = data[i]!;
    const len = data[i + 1]! * 32 + data[i + 2]!;
    if (i + 3 + len > end) fail('tagged field overruns the data');
    const field = data.slice(i + 3, i + 3 + len);
    if (tag === TAG_EXPIRY) expirySeconds = toInt(field);
    if (tag === TAG_PAYMENT_HASH && len === 52) paymentHash = wordsToHex(field);
    i += 3 + len;
  }
  return { createdAt: new Date(timestamp * 1000), expirySeconds, expiresAt: new Date((timestamp + expirySeconds) * 1000), paymentHash };
}
