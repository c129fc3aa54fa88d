import pg from 'pg';
import type { z } from 'zod';
import type { lamassuSchema } from '../../config/schema';
import type { Logger } from '../../log/logger';
import { openTunnel, type Tunnel } from './tunnel';

export type LamassuConfig = z.infer<typeof lamassuSchema>;

/** Reaching Lamassu's database failed (tunnel down, connection dropped, bad URL). Retryable. */
export class LamassuConnectionError extends Error {
  override name = 'LamassuConnectionError';
}

export interface LamassuConnection {
  /** Runs fn inside `BEGIN READ ONLY` with a local statement_timeout; throws (never returns empty) when the link fails. */
  withReadOnly<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T>;
  /** `host:port/db` of the Lamassu database, without credentials — safe for logs. */
  readonly description: string;
  close(): Promise<void>;
}

/** host:port/db of a connection URL — never the user's password or query parameters. */
export function describeDatabaseUrl(databaseUrl: string): string {
  try {
    const u = new URL(databaseUrl);
    return `${u.hostname || 'localhost'}:${u.port || 5432}${u.pathname || '/'}`;
  } catch {
    return '<unparsable database url>';
  }
}

/** Where the SSH server must connect to: the URL's host:port as seen from the SSH server. */
export function databaseTarget(databaseUrl: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(databaseUrl);
  } catch {
    throw new LamassuConnectionError('lamassu.databaseUrl is not a postgres:// URL');
  }
  if (!u.hostname || u.searchParams.has('host')) {
    throw new LamassuConnectionError('lamassu.databaseUrl must name a TCP host:port for ssh mode (unix sockets are not forwarded)');
  }
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port || 5432) };
}

/** The same URL pointed at the local end of the tunnel (keeps user, password, database and parameters). */
export function viaLocalPort(databaseUrl: string, localPort: number): string {
  const u = new URL(databaseUrl);
  u.hostname = '127.0.0.1';
  u.port = String(localPort);
  return u.toString();
}

/** How long a failed call waits for the tunnel to report its close before naming the error. */
const LINK_VERDICT_MS = 3_000;

export function createLamassuConnection(config: LamassuConfig, log: Logger): LamassuConnection {
  const description = describeDatabaseUrl(config.databaseUrl);
  const where = config.mode === 'ssh' ? `${description} via ssh ${config.ssh?.host}:${config.ssh?.port}` : description;
  let tunnel: Tunnel | undefined;
  let pool: pg.Pool | undefined;
  let opening: Promise<pg.Pool> | undefined;
  let closing = false;

  const newPool = (connectionString: string) => {
    const p = new pg.Pool({
      connectionString,
      max: 4,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: config.ssh?.readyTimeoutMs ?? 15_000,
      // Client-side guard too: statement_timeout cannot fire if the server never hears from us again.
      query_timeout: config.statementTimeoutMs + 5_000,
    });
    // An idle client dying with the tunnel must not crash the process; the next checkout reconnects.
    p.on('error', (err) => log.warn({ lamassu: where, err: err.message }, 'idle lamassu connection failed'));
    return p;
  };

  async function open(): Promise<pg.Pool> {
    if (config.mode === 'direct') return newPool(config.databaseUrl);
    if (!config.ssh) throw new LamassuConnectionError('lamassu.mode is ssh but lamassu.ssh is not configured');
    const { host, port } = databaseTarget(config.databaseUrl);
    const t = await openTunnel(config.ssh, host, port, { log });
    const p = newPool(viaLocalPort(config.databaseUrl, t.localPort));
    tunnel = t;
    // When the SSH link dies, drop this pool so the next call builds a fresh tunnel + pool.
    void t.closed.then(() => {
      if (pool === p) pool = undefined;
      if (tunnel === t) tunnel = undefined;
      p.end().catch(() => undefined);
    });
    return p;
  }

  async function getPool(): Promise<pg.Pool> {
    if (closing) throw new LamassuConnectionError(`lamassu connection to ${where} is closed`);
    if (pool && (config.mode === 'direct' || tunnel?.isOpen())) return pool;
    // Concurrent callers share one reconnect attempt.
    opening ??= open().finally(() => (opening = undefined));
    const p = await opening;
    if (closing) throw new LamassuConnectionError(`lamassu connection to ${where} is closed`);
    return (pool = p);
  }

  /** A dropped socket or a client-side timeout (pg's own messages, Node's socket codes): the link, not fn. */
  const isLinkError = (err: unknown) =>
    /^E[A-Z]+$/.test(String((err as { code?: unknown })?.code ?? '')) ||
    /Connection terminated|connection error|Query read timeout|socket hang up/i.test(String((err as Error)?.message ?? ''));

  /** SQLSTATE-coded errors come from the server; anything else (dropped socket, timeout) is about the link. */
  const isServerError = (err: unknown) => /^[0-9A-Z]{5}$/.test(String((err as { code?: unknown })?.code ?? ''));

  /** Say explicitly when the tunnel went away under a call; errors of fn itself pass through unchanged. */
  async function explain(err: unknown, t: Tunnel | undefined, phase: 'connect' | 'query', linkFailed = false): Promise<unknown> {
    if (!t || isServerError(err)) {
      return phase === 'connect' ? new LamassuConnectionError(`lamassu database ${where}: ${(err as Error)?.message}`, { cause: err }) : err;
    }
    // The channel can drop well before ssh2 reports the connection closed (a loaded machine: seconds): give
    // it time to say so. Whatever it says, a link error is a LamassuConnectionError, never fn's own error.
    const link = linkFailed || isLinkError(err);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([t.closed, new Promise((r) => (timer = setTimeout(r, link ? LINK_VERDICT_MS : 100)))]);
    clearTimeout(timer);
    if (!t.isOpen()) return new LamassuConnectionError(`SSH tunnel for ${where} closed during the call: ${(err as Error)?.message}`, { cause: err });
    if (phase === 'query') {
      return link ? new LamassuConnectionError(`lamassu database ${where}: connection lost during the call: ${(err as Error)?.message}`, { cause: err }) : err;
    }
    const fwd = t.lastForwardError();
    return new LamassuConnectionError(`lamassu database ${where}: ${(err as Error)?.message}${fwd ? ` (${fwd.message})` : ''}`, { cause: err });
  }

  return {
    description,
    async withReadOnly<T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
      const p = await getPool();
      const t = tunnel;
      let client: pg.PoolClient;
      try {
        client = await p.connect();
      } catch (err) {
        throw await explain(err, t, 'connect');
      }
      let broken: Error | undefined;
      // A checked-out client has no pool error listener: without ours, a dropped link crashes the process.
      const onError = (err: Error) => (broken ??= err);
      client.on('error', onError);
      try {
        await client.query('BEGIN READ ONLY');
        await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(config.statementTimeoutMs)]);
        const result = await fn(client);
        // COMMIT must succeed too: a link that dies here fails the call instead of returning anything.
        await client.query('COMMIT');
        return result;
      } catch (err) {
        const linkFailed = broken !== undefined; // the client reported an error of its connection
        broken = err instanceof Error ? err : new Error(String(err));
        await client.query('ROLLBACK').catch(() => undefined);
        throw await explain(err, t, 'query', linkFailed);
      } finally {
        // Discard the connection after any failure: it may be mid-protocol or on a dead tunnel.
        client.removeListener('error', onError);
        client.release(broken ?? false);
      }
    },
    async close() {
      closing = true;
      const pending = await opening?.catch(() => undefined);
      await pending?.end().catch(() => undefined);
      const p = pool;
      pool = undefined;
      await p?.end().catch(() => undefined);
      await tunnel?.close();
      tunnel = undefined;
    },
  };
}
