import net from 'node:net';
import pg from 'pg';
import { HostKeyMismatchError } from './host-key';
import { databaseTarget, describeDatabaseUrl, viaLocalPort, type LamassuConfig } from './connection';
import { openTunnel, TunnelError, type Tunnel } from './tunnel';

export type ConnectionTestStepName = 'config' | 'ssh-reachable' | 'host-key' | 'authenticated' | 'database' | 'cash_out_txs';

export interface ConnectionTestStep {
  step: ConnectionTestStepName;
  ok: boolean;
  detail: string;
  ms: number;
  /** Failed for a reason that may pass (the handshake timed out or was cut before the host key was seen). */
  transient?: boolean;
}

export interface ConnectionTestResult {
  ok: boolean;
  steps: ConnectionTestStep[];
  rowCount?: number;
  /** cash_out_txs has an index led by confirmed_at: a poll reads its look-back window only (docs/performance.md, P4). */
  confirmedAtIndexed?: boolean;
  /** ISO time of the database's clock_timestamp(). */
  databaseTime?: string;
  /** Database clock minus ours (midpoint of the round trip), in ms; positive = database ahead. */
  clockOffsetMs?: number;
}

/** From this size on, the missing confirmed_at index is worth the operator's attention (≈ 50 ms a poll at 100 k rows). */
const LARGE_TABLE_ROWS = 100_000;

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port });
    s.setTimeout(timeoutMs, () => s.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    s.once('connect', () => (s.destroy(), resolve()));
    s.once('error', reject);
  });
}

/**
 * Checks the path to Lamassu's `cash_out_txs` step by step and stops at the first failing step, so an
 * operator sees exactly what is wrong (unreachable, wrong host key, key refused, database, table).
 */
export async function testLamassuConnection(config: LamassuConfig): Promise<ConnectionTestResult> {
  const result: ConnectionTestResult = { ok: false, steps: [] };
  let mark = Date.now();
  const record = (step: ConnectionTestStepName, ok: boolean, detail: string) => {
    const now = Date.now();
    result.steps.push({ step, ok, detail, ms: now - mark });
    mark = now;
    return ok;
  };

  let tunnel: Tunnel | undefined;
  let client: pg.Client | undefined;
  try {
    let url = config.databaseUrl;
    const db = describeDatabaseUrl(config.databaseUrl);
    if (config.mode === 'ssh') {
      const ssh = config.ssh;
      if (!ssh) return (record('config', false, 'lamassu.mode is ssh but lamassu.ssh is missing'), result);
      let target: { host: string; port: number };
      try {
        target = databaseTarget(config.databaseUrl);
      } catch (err) {
        return (record('config', false, message(err)), result);
      }
      const where = `${ssh.host}:${ssh.port}`;
      try {
        await tcpProbe(ssh.host, ssh.port, ssh.readyTimeoutMs);
      } catch (err) {
        return (record('ssh-reachable', false, `${where}: ${message(err)}`), result);
      }
      record('ssh-reachable', true, `${where} accepts TCP connections`);

      let hostKeySeen = false;
      try {
        tunnel = await openTunnel(ssh, target.host, target.port, {
          onHostKey: (presented, matches) => {
            if (!matches) return;
            hostKeySeen = true;
            record('host-key', true, `${presented} matches the pinned key`);
          },
        });
      } catch (err) {
        if (err instanceof HostKeyMismatchError) return (record('host-key', false, err.message), result);
        if (!hostKeySeen) {
          record('host-key', false, `SSH handshake failed before the host key was checked: ${message(err)}`);
          result.steps.at(-1)!.transient = true;
          return result;
        }
        const stage = err instanceof TunnelError ? err.stage : 'authenticate';
        return (record('authenticated', false, stage === 'authenticate' ? message(err) : `after authentication: ${message(err)}`), result);
      }
      record('authenticated', true, `key accepted for ${ssh.username}; forwarding to ${target.host}:${target.port} via 127.0.0.1:${tunnel.localPort}`);
      url = viaLocalPort(config.databaseUrl, tunnel.localPort);
    }

    const timeout = config.statementTimeoutMs;
    client = new pg.Client({ connectionString: url, connectionTimeoutMillis: config.ssh?.readyTimeoutMs ?? 15_000, query_timeout: timeout + 5_000 });
    client.on('error', () => undefined); // surfaced by the awaited query instead
    try {
      await client.connect();
      await client.query('BEGIN READ ONLY');
      await client.query(`SELECT set_config('statement_timeout', $1, true)`, [String(timeout)]);
      const before = Date.now();
      const { rows } = await client.query<{ ms: string; version: string }>(
        `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::text AS ms, current_setting('server_version') AS version`,
      );
      const after = Date.now();
      const dbMs = Number(rows[0]!.ms); // a clock reading, not money
      result.databaseTime = new Date(dbMs).toISOString();
      result.clockOffsetMs = Math.round(dbMs - (before + after) / 2);
      record('database', true, `${db} answers (PostgreSQL ${rows[0]!.version}); its time ${result.databaseTime}, offset ${result.clockOffsetMs} ms from ours`);
    } catch (err) {
      const more = tunnel?.lastForwardError() ? ` (${tunnel.lastForwardError()!.message})` : '';
      return (record('database', false, `${db}: ${message(err)}${more}`), result);
    }

    try {
      const { rows } = await client.query<{ n: string }>('SELECT count(*)::text AS n FROM cash_out_txs');
      result.rowCount = Number(rows[0]!.n);
      // Lamassu creates no index on confirmed_at, so each poll scans the whole table (≈ 0.5 s per million rows
      // here): said, not failed — the operator may add the index (the reader uses it unchanged).
      const { rows: idx } = await client.query<{ indexed: boolean }>(
        `SELECT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                         WHERE i.indrelid = 'cash_out_txs'::regclass AND a.attname = 'confirmed_at') AS indexed`,
      );
      result.confirmedAtIndexed = idx[0]!.indexed;
      const scan = result.confirmedAtIndexed
        ? '; indexed on confirmed_at: a poll reads only its look-back window'
        : result.rowCount >= LARGE_TABLE_ROWS
          ? `; no index on confirmed_at: every poll scans all ${result.rowCount} rows (CREATE INDEX CONCURRENTLY ON cash_out_txs (confirmed_at) makes it constant; docs/performance.md, P4)`
          : '; no index on confirmed_at (a poll scans the table; fine at this size)';
      record('cash_out_txs', true, `readable, ${result.rowCount} rows${scan}`);
    } catch (err) {
      return (record('cash_out_txs', false, message(err)), result);
    }
    result.ok = true;
    return result;
  } finally {
    await client?.query('ROLLBACK').catch(() => undefined);
    await client?.end().catch(() => undefined);
    await tunnel?.close();
  }
}
