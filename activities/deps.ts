import type pg from 'pg';
import type { Config } from '../config/schema';
import type { LnbitsClient } from '../adapters/lnbits/client';
import type { Logger } from '../log/logger';

/** What every activity factory receives. Adapters are built once per worker process. */
export interface ActivityDeps {
  config: Config;
  /** The ledger (our PostgreSQL, schema satoshimachine). */
  pool: pg.Pool;
  log: Logger;
  /** The LNbits HTTP client (built once by the worker); factories build one from config.lnbits when absent. */
  lnbits?: LnbitsClient;
}
