/**
 * The cut-over: cash-outs confirmed before it are never paid (the old system paid them). It is set in the
 * config (lamassu.payFrom / LAMASSU_PAY_FROM) or stored in the ledger by `satmachine import satmachineadmin`;
 * the poller honours the later of the two.
 */
import type { Queryable } from './db';

export interface StoredCutover {
  payFrom: string;
  source: string;
  setBy: string;
  setAt: string;
}

export async function getStoredCutover(db: Queryable): Promise<StoredCutover | null> {
  const { rows } = await db.query(
    `SELECT to_json(pay_from) #>> '{}' AS pay_from, source, set_by, to_json(set_at) #>> '{}' AS set_at FROM satoshimachine.cutover`,
  );
  const r = rows[0];
  return r ? { payFrom: String(r.pay_from), source: String(r.source), setBy: String(r.set_by), setAt: String(r.set_at) } : null;
}

/** The later of two optional instants (ISO texts with offsets). */
export function laterInstant(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return Date.parse(b) > Date.parse(a) ? b : a;
}

/** What the poller uses: the later of config lamassu.payFrom and the ledger's cut-over. */
export async function effectivePayFrom(db: Queryable, configPayFrom: string | undefined): Promise<string | null> {
  return laterInstant(configPayFrom, (await getStoredCutover(db))?.payFrom);
}
