/**
 * A simulated Lamassu ATM writing cash_out_txs (lamassu-server v10.0.3's table, db/lamassu-sim/schema.sql)
 * the way lamassu-server does over a cash-out's life: the row is INSERTED EARLY (`notSeen`, nothing
 * dispensed, tx_version 1) and UPDATED IN PLACE as the sale goes on — `authorized` when a BTC payment is
 * seen (zero-conf), `confirmed` with confirmed_at once it confirms (Lightning confirms at once), then
 * `dispense` (a `dispense` action) and, once the bills are out, `dispense_confirmed`. crypto_atoms is priced
 * like the machine does and rounded to 100-sat steps (BTC and LN alike). Now and then: an operator cancel
 * (error 'Operator cancel' / operatorCancel, dispense set), a partial dispense (an error text, error_code
 * NULL), a zero-conf sale that never confirms (dispensed, still `authorized`), and a malformed row.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { parseDecimal, pow10, roundHalfAwayFromZero } from '../domain/decimal';

export type AtmKind = 'cashout' | 'cancelled' | 'partial-dispense' | 'zero-conf-unconfirmed' | 'malformed';

export interface AtmEvent {
  kind: AtmKind;
  id: string;
  cryptoCode: 'BTC' | 'LN';
  fiatWhole: number;
  fiatCode: string;
  cryptoAtoms: string;
  /** What is wrong with a malformed row, or why a row must not be paid. */
  note?: string;
}

export interface AtmOptions {
  lamassuUrl: string;
  /** Seconds between cash-outs; 0 = only on insertNow(). */
  intervalSeconds: number;
  fiatCode?: string;
  deviceId?: string;
  /** Seconds between two stages of one cash-out (insert → seen → confirmed → dispense → confirmed). */
  stageSeconds?: number;
  onEvent?: (e: AtmEvent) => void;
  onError?: (err: Error) => void;
}

export const SIM_COMMISSION = '0.05500';
const START_TICKER_CENTS = 82_609_128n; // 826 091.28 GTQ/BTC, the domain doc's real row
/** Bills of 100 and 200 GTQ in the cassettes: amounts are multiples of 100, small ones more common. */
const AMOUNTS_WHOLE = [100, 200, 200, 300, 400, 500, 500, 600, 800, 1000, 1000, 1200, 1500, 2000, 2500, 3000, 4000];

/**
 * crypto_atoms as the machine prices a cash-out: rate = ticker × (1 − effective commission), atoms =
 * fiat × 10^8 / rate, rounded (half away from zero) to 100-sat steps (BTC and LN). Exact bigint fractions.
 */
export function machineCryptoAtoms(p: { fiatWhole: bigint; ticker: string; commission: string; discount: number | null }): bigint {
  const t = parseDecimal(p.ticker, 'raw_ticker_price');
  const c = parseDecimal(p.commission, 'commission_percentage');
  const keep = 100n - BigInt(p.discount ?? 0);
  // 1 − c × keep/100 = (10^cs·100 − C·keep) / (10^cs·100)
  const oneMinusEffNum = pow10(c.scale) * 100n - c.coefficient * keep;
  const num = p.fiatWhole * pow10(8) * pow10(t.scale) * pow10(c.scale) * 100n;
  const den = t.coefficient * oneMinusEffNum;
  return roundHalfAwayFromZero(num, den * 100n) * 100n;
}

const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

function formatCents(cents: bigint): string {
  return `${cents / 100n}.${String(cents % 100n).padStart(2, '0')}000`;
}

export interface Atm {
  /**
   * Start one cash-out now (kind chosen by the schedule unless given); resolves once its whole life was
   * written (the final update included).
   */
  insertNow(kind?: AtmKind, overrides?: { cryptoCode?: 'BTC' | 'LN'; fiatWhole?: number }): Promise<AtmEvent>;
  stop(): Promise<void>;
}

/** Kinds by position: the 7th of every 13 is cancelled, the 11th of every 17 malformed, and so on. */
const scheduled = (i: number): AtmKind =>
  i % 13 === 6 ? 'cancelled' : i % 17 === 11 ? 'malformed' : i % 19 === 9 ? 'partial-dispense' : i % 23 === 15 ? 'zero-conf-unconfirmed' : 'cashout';

export function startAtm(opts: AtmOptions): Atm {
  const pool = new pg.Pool({ connectionString: opts.lamassuUrl, max: 3 });
  pool.on('error', (err) => opts.onError?.(err));
  const fiatCode = opts.fiatCode ?? 'GTQ';
  const deviceId = opts.deviceId ?? 'sandbox-atm-zona-10';
  const stageMs = (opts.stageSeconds ?? 1) * 1000;
  let tickerCents = START_TICKER_CENTS;
  let n = 0;
  let stopped = false;
  const pending = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    pending.add(p);
    void p.finally(() => pending.delete(p)).catch(() => undefined);
    return p;
  };
  const pause = () => new Promise<void>((r) => setTimeout(r, stageMs));

  /** One in-place update, bumping tx_version like the machine's every update does. */
  const update = async (id: string, set: Record<string, unknown>) => {
    if (stopped) return;
    const names = Object.keys(set);
    await pool.query(
      `UPDATE cash_out_txs SET ${names.map((c, k) => `${c} = $${k + 2}`).join(', ')}, tx_version = tx_version + 1 WHERE id = $1`,
      [id, ...Object.values(set)],
    );
  };
  const action = (id: string, name: string, extra: { error?: string } = {}) =>
    pool.query(`INSERT INTO cash_out_actions (tx_id, action, error, device_id) VALUES ($1, $2, $3, $4)`, [id, name, extra.error ?? null, deviceId]);

  async function run(kind: AtmKind, o: { cryptoCode?: 'BTC' | 'LN'; fiatWhole?: number } = {}): Promise<AtmEvent> {
    const i = n++;
    // A random walk of ±0.2 % (±20 basis points) per sale in integer cents, kept within a plausible band.
    const basisPoints = BigInt(Math.floor(Math.random() * 41) - 20);
    tickerCents += (tickerCents * basisPoints) / 10_000n;
    if (tickerCents > 86_000_000n) tickerCents = 86_000_000n;
    if (tickerCents < 79_000_000n) tickerCents = 79_000_000n;
    const cryptoCode = kind === 'zero-conf-unconfirmed' ? 'BTC' : (o.cryptoCode ?? (Math.random() < 0.4 ? 'LN' : 'BTC'));
    const fiatWhole = o.fiatWhole ?? pick(AMOUNTS_WHOLE);
    const ticker = formatCents(tickerCents);
    const discount = Math.random() < 0.1 ? 10 : null;
    const atoms = machineCryptoAtoms({ fiatWhole: BigInt(fiatWhole), ticker, commission: SIM_COMMISSION, discount });
    const id = randomUUID();
    let note: string | undefined;
    const row: Record<string, unknown> = {
      id,
      device_id: deviceId,
      to_address: cryptoCode === 'BTC' ? `bc1q${randomBytes(19).toString('hex')}` : `lnbc${atoms / 100n}u1p${randomBytes(24).toString('hex')}`,
      crypto_atoms: atoms.toString(),
      crypto_code: cryptoCode,
      fiat: `${fiatWhole}.00000`,
      fiat_code: fiatCode,
      tx_version: 1,
      denomination_1: 100,
      denomination_2: 200,
      provisioned_1: (fiatWhole % 200) / 100,
      provisioned_2: Math.floor(fiatWhole / 200),
      commission_percentage: SIM_COMMISSION,
      raw_ticker_price: ticker,
      discount,
      terms_accepted: true,
    };
    if (kind === 'malformed') {
      const variants = [
        { commission_percentage: '5.50000', note: 'commission_percentage 5.5 (a percent, not a fraction)' },
        { discount: 150, note: 'discount 150 %' },
      ];
      const { note: what, ...columns } = variants[i % variants.length]!;
      note = `malformed: ${what}`;
      Object.assign(row, columns);
    }
    const names = Object.keys(row);
    // The machine writes the row as soon as the customer has chosen the amount: nothing seen, nothing dispensed.
    await pool.query(`INSERT INTO cash_out_txs (${names.join(', ')}) VALUES (${names.map((_, k) => `$${k + 1}`).join(', ')})`, Object.values(row));
    await action(id, 'provisionAddress');
    const event: AtmEvent = { kind, id, cryptoCode, fiatWhole, fiatCode, cryptoAtoms: atoms.toString(), note };

    if (kind === 'cancelled') {
      await pause();
      // The operator cancels before the payment arrives: Lamassu sets dispense together with the error.
      await update(id, { dispense: true, error: 'Operator cancel', error_code: 'operatorCancel' });
      event.note = 'operator cancel: must not be paid';
      opts.onEvent?.(event);
      return event;
    }
    await pause();
    if (cryptoCode === 'BTC') {
      // The payment is seen in the mempool (zero-conf): authorized, the received amount known.
      await update(id, { status: 'authorized', received_crypto_atoms: atoms.toString(), published_at: new Date() });
      await pause();
    }
    if (kind === 'zero-conf-unconfirmed') {
      // Zero-conf: the bills come out on `authorized`; the transaction never confirms.
      await update(id, { dispense: true });
      await action(id, 'dispense');
      await update(id, { dispense_confirmed: true });
      event.note = 'zero-conf, never confirmed: dispensed but never payable (alerted after cashOutChecks.dispensedNotFinalHours)';
      opts.onEvent?.(event);
      return event;
    }
    await update(id, { status: 'confirmed', confirmed_at: new Date(), ...(cryptoCode === 'LN' ? { received_crypto_atoms: atoms.toString() } : {}) });
    await pause();
    await update(id, { dispense: true });
    if (kind === 'partial-dispense') {
      // Some bills stuck: an error text, no error code, dispense_confirmed stays false.
      await action(id, 'dispense', { error: 'Partial dispense' });
      await update(id, { error: 'Partial dispense: 1 bill(s) rejected' });
      event.note = 'partial dispense: error set, not paid';
      opts.onEvent?.(event);
      return event;
    }
    await action(id, 'dispense');
    await pause();
    await update(id, { dispense_confirmed: true });
    opts.onEvent?.(event);
    return event;
  }

  const tick = () => {
    if (stopped) return;
    track(run(scheduled(n))).catch((err: Error) => opts.onError?.(err));
  };
  const interval = opts.intervalSeconds > 0 ? setInterval(tick, opts.intervalSeconds * 1000) : undefined;

  return {
    insertNow: (kind, overrides) => track(run(kind ?? scheduled(n), overrides)),
    async stop() {
      stopped = true;
      if (interval) clearInterval(interval);
      await Promise.allSettled([...pending]);
      await pool.end();
    },
  };
}
