/**
 * A simulated Lamassu ATM: every few seconds a customer sells bitcoin (BTC on-chain or Lightning) and the
 * machine dispenses GTQ bills. Each cash-out is written to the simulated Lamassu database the way
 * lamassu-server records it (cash_out_txs + a `dispense` action): ticker ~826 000 GTQ/BTC with a small
 * random walk, commission 0.055, crypto_atoms priced like the machine does (domain.md §3). Lightning
 * cash-outs confirm first and dispense a moment later, as real ones do. Now and then an operator cancels
 * one (it must never be paid) and one arrives malformed (it must be rejected, with an alert).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { parseDecimal, pow10, roundHalfAwayFromZero } from '../domain/decimal';

export type AtmKind = 'cashout' | 'cancelled' | 'malformed';

export interface AtmEvent {
  kind: AtmKind;
  id: string;
  cryptoCode: 'BTC' | 'LN';
  fiatWhole: number;
  fiatCode: string;
  cryptoAtoms: string;
  /** What is wrong with a malformed row, or why a cancelled one must not be paid. */
  note?: string;
}

export interface AtmOptions {
  lamassuUrl: string;
  /** Seconds between cash-outs; 0 = only on insertNow(). */
  intervalSeconds: number;
  fiatCode?: string;
  deviceId?: string;
  /** Seconds a Lightning cash-out waits between confirmation and dispense. */
  lightningDispenseDelaySeconds?: number;
  onEvent?: (e: AtmEvent) => void;
  onError?: (err: Error) => void;
}

export const SIM_COMMISSION = '0.05500';
const START_TICKER_CENTS = 82_609_128n; // 826 091.28 GTQ/BTC, the domain doc's real row
/** Bills of 100 and 200 GTQ in the cassettes: amounts are multiples of 100, small ones more common. */
const AMOUNTS_WHOLE = [100, 200, 200, 300, 400, 500, 500, 600, 800, 1000, 1000, 1200, 1500, 2000, 2500, 3000, 4000];

/**
 * crypto_atoms as the machine prices a cash-out: rate = ticker × (1 − effective commission), atoms =
 * fiat × 10^8 / rate, rounded (half away from zero) to 100-sat steps for BTC and to whole sats for LN.
 * Exact: decimals as bigint fractions.
 */
export function machineCryptoAtoms(p: { fiatWhole: bigint; ticker: string; commission: string; discount: number | null; cryptoCode: 'BTC' | 'LN' }): bigint {
  const t = parseDecimal(p.ticker, 'raw_ticker_price');
  const c = parseDecimal(p.commission, 'commission_percentage');
  const keep = 100n - BigInt(p.discount ?? 0);
  // 1 − c × keep/100 = (10^cs·100 − C·keep) / (10^cs·100)
  const oneMinusEffNum = pow10(c.scale) * 100n - c.coefficient * keep;
  const num = p.fiatWhole * pow10(8) * pow10(t.scale) * pow10(c.scale) * 100n;
  const den = t.coefficient * oneMinusEffNum;
  const step = p.cryptoCode === 'BTC' ? 100n : 1n;
  return roundHalfAwayFromZero(num, den * step) * step;
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

function formatCents(cents: bigint): string {
  return `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}000`;
}

export interface Atm {
  /** Insert one cash-out now (kind chosen by the schedule unless given); resolves once it is written. */
  insertNow(kind?: AtmKind, overrides?: { cryptoCode?: 'BTC' | 'LN'; fiatWhole?: number }): Promise<AtmEvent>;
  stop(): Promise<void>;
}

export function startAtm(opts: AtmOptions): Atm {
  const pool = new pg.Pool({ connectionString: opts.lamassuUrl, max: 2 });
  pool.on('error', (err) => opts.onError?.(err));
  const fiatCode = opts.fiatCode ?? 'GTQ';
  const deviceId = opts.deviceId ?? 'sandbox-atm-zona-10';
  const lnDelayMs = (opts.lightningDispenseDelaySeconds ?? 3) * 1000;
  let tickerCents = START_TICKER_CENTS;
  let n = 0;
  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => undefined);
    return p;
  };

  /** The third of every thirteen is cancelled by the operator, the eleventh of every seventeen malformed. */
  const scheduled = (i: number): AtmKind => (i % 13 === 6 ? 'cancelled' : i % 17 === 11 ? 'malformed' : 'cashout');

  async function insert(kind: AtmKind, o: { cryptoCode?: 'BTC' | 'LN'; fiatWhole?: number } = {}): Promise<AtmEvent> {
    const i = n++;
    // A random walk of ±0.2 % (±20 basis points) per sale in integer cents, kept within a plausible band.
    const basisPoints = BigInt(Math.floor(Math.random() * 41) - 20);
    tickerCents += (tickerCents * basisPoints) / 10_000n;
    if (tickerCents > 86_000_000n) tickerCents = 86_000_000n;
    if (tickerCents < 79_000_000n) tickerCents = 79_000_000n;
    const cryptoCode = o.cryptoCode ?? (Math.random() < 0.4 ? 'LN' : 'BTC');
    const fiatWhole = o.fiatWhole ?? pick(AMOUNTS_WHOLE);
    const ticker = formatCents(tickerCents);
    const discount = Math.random() < 0.1 ? 10 : null;
    const atoms = machineCryptoAtoms({ fiatWhole: BigInt(fiatWhole), ticker, commission: SIM_COMMISSION, discount, cryptoCode });
    const now = new Date();
    const id = randomUUID();
    const row: Record<string, unknown> = {
      id,
      device_id: deviceId,
      to_address: cryptoCode === 'BTC' ? `bc1q${randomBytes(19).toString('hex')}` : `lnbc${atoms}n1p${randomBytes(24).toString('hex')}`,
      crypto_atoms: atoms.toString(),
      received_crypto_atoms: atoms.toString(),
      crypto_code: cryptoCode,
      fiat: `${fiatWhole}.00000`,
      fiat_code: fiatCode,
      status: 'confirmed',
      dispense: true,
      dispense_confirmed: true,
      dispense_time: now,
      denomination_1: 100,
      denomination_2: 200,
      provisioned_1: (fiatWhole % 200) / 100,
      provisioned_2: Math.floor(fiatWhole / 200),
      commission_percentage: SIM_COMMISSION,
      raw_ticker_price: ticker,
      discount,
      fixed_fee: '0.00000',
      created: new Date(now.getTime() - (20 + Math.floor(Math.random() * 40)) * 1000),
      confirmed_at: now,
    };
    let note: string | undefined;
    const lightningLater = kind === 'cashout' && cryptoCode === 'LN' && lnDelayMs > 0;
    if (lightningLater) Object.assign(row, { dispense: false, dispense_confirmed: false, dispense_time: null });
    if (kind === 'cancelled') {
      Object.assign(row, { dispense: true, dispense_confirmed: false, dispense_time: null, error: 'Operator cancel', error_code: 'operatorCancel' });
      note = 'operator cancel: must not be paid';
    }
    if (kind === 'malformed') {
      const variants = [
        { commission_percentage: '-0.05500', note: 'negative commission_percentage' },
        { commission_percentage: '5.50000', note: 'commission_percentage 5.5 (a percent, not a fraction)' },
        { discount: 150, note: 'discount 150 %' },
      ];
      const { note: what, ...columns } = variants[i % variants.length]!;
      note = `malformed: ${what}`;
      Object.assign(row, columns);
    }
    const names = Object.keys(row);
    await pool.query(`INSERT INTO cash_out_txs (${names.join(', ')}) VALUES (${names.map((_, k) => `$${k + 1}`).join(', ')})`, Object.values(row));
    if (kind !== 'cancelled' && !lightningLater) await pool.query(`INSERT INTO cash_out_actions (tx_id, action) VALUES ($1, 'dispense')`, [id]);
    if (lightningLater) {
      // Lightning: paid and confirmed first, the bills come out a few seconds later.
      const t = setTimeout(() => {
        timers.delete(t);
        if (stopped) return;
        track(
          pool
            .query(`UPDATE cash_out_txs SET dispense = true, dispense_confirmed = true, dispense_time = now() WHERE id = $1`, [id])
            .then(() => pool.query(`INSERT INTO cash_out_actions (tx_id, action) VALUES ($1, 'dispense')`, [id])),
        ).catch((err: Error) => opts.onError?.(err));
      }, lnDelayMs);
      timers.add(t);
    }
    const event: AtmEvent = { kind, id, cryptoCode, fiatWhole, fiatCode, cryptoAtoms: atoms.toString(), note };
    opts.onEvent?.(event);
    return event;
  }

  const tick = () => {
    if (stopped) return;
    track(insert(scheduled(n))).catch((err: Error) => opts.onError?.(err));
  };
  const interval = opts.intervalSeconds > 0 ? setInterval(tick, opts.intervalSeconds * 1000) : undefined;

  return {
    insertNow: (kind, overrides) => track(insert(kind ?? scheduled(n), overrides)),
    async stop() {
      stopped = true;
      if (interval) clearInterval(interval);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await Promise.allSettled([...pending]);
      await pool.end();
    },
  };
}
