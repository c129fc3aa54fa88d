/**
 * What a command needs, created lazily and closed at the end of the command: the config (loadConfig: env +
 * optional file + .satmachine/config.json), a stderr logger, the ledger pool, the Temporal client and the
 * LNbits client. `withContext` also turns known failures into one-line CliErrors with meaningful exit codes.
 */
import os from 'node:os';
import { Client, Connection, ServiceError, WorkflowNotFoundError, WorkflowUpdateFailedError, WorkflowFailedError } from '@temporalio/client';
import pg from 'pg';
import pino from 'pino';
import { z } from 'zod';
import { ConfigError, loadConfig, describeZodError } from '../config/load';
import type { Config } from '../config/schema';
import { POLLER_WORKFLOW_ID } from '../domain/constants';
import { BusinessError, LedgerNotFoundError } from '../domain/errors';
import { LnbitsAuthError, LnbitsRejectedError, LnbitsResponseError, LnbitsTransientError } from '../adapters/lnbits/errors';
import { createLnbitsClient, type LnbitsClient } from '../adapters/lnbits/client';
import { redactPaths, type Logger } from '../log/logger';
import { CliError, EXIT, cliEnv } from './output';
import { diagnoseTemporalTls, temporalConnectOptions } from '../config/temporal-connection';

export interface Context {
  readonly config: Config;
  readonly log: Logger;
  /**
   * The poller's workflow id and the schedules' id prefix: POLLER_WORKFLOW_ID and '' unless
   * SATMACHINE_POLLER_WORKFLOW_ID / SATMACHINE_SCHEDULE_ID_PREFIX say otherwise (tests sharing a namespace).
   */
  readonly pollerWorkflowId: string;
  readonly scheduleIdPrefix: string;
  /** The ledger pool; a CliError (exit 2) when databaseUrl is not configured. */
  pool(): pg.Pool;
  /** The Temporal client (address, namespace, TLS, API key from config.temporal). */
  temporal(): Promise<Client>;
  lnbits(): LnbitsClient;
  /** Who is acting: --actor, else the OS user. Recorded with every operator change. */
  actor(explicit?: string): string;
  close(): Promise<void>;
}

/** Temporal must answer within this when a command connects (an unreachable server is exit 3, not a hang). */
const TEMPORAL_CONNECT_TIMEOUT = '5 seconds';

export function createContext(config: Config): Context {
  const env = cliEnv();
  // Logs go to stderr: stdout carries the command's output (and --json must stay parseable).
  const log = pino(
    { name: 'satmachine-cli', level: env.LOG_LEVEL ?? 'warn', redact: { paths: redactPaths, censor: '[redacted]' } },
    pino.destination({ fd: 2, sync: true }),
  );
  let pool: pg.Pool | undefined;
  let connection: Promise<Connection> | undefined;
  let lnbits: LnbitsClient | undefined;

  return {
    config,
    log,
    pollerWorkflowId: env.SATMACHINE_POLLER_WORKFLOW_ID || POLLER_WORKFLOW_ID,
    scheduleIdPrefix: env.SATMACHINE_SCHEDULE_ID_PREFIX ?? '',
    pool() {
      if (!config.databaseUrl) throw new CliError('databaseUrl: required (set DATABASE_URL or databaseUrl in the config file)', EXIT.usage);
      if (!pool) {
        pool = new pg.Pool({ connectionString: config.databaseUrl, max: 4, connectionTimeoutMillis: 10_000 });
        pool.on('error', (err) => log.warn({ err: err.message }, 'ledger pool error'));
      }
      return pool;
    },
    async temporal() {
      connection ??= Connection.connect({ ...temporalConnectOptions(config.temporal), connectTimeout: TEMPORAL_CONNECT_TIMEOUT });
      try {
        return new Client({ connection: await connection, namespace: config.temporal.namespace });
      } catch (err) {
        connection = undefined;
        const tls = await diagnoseTemporalTls(config.temporal).catch(() => undefined);
        throw new CliError(`Temporal unreachable at ${config.temporal.address}: ${tls ?? (err as Error).message}`, EXIT.unavailable);
      }
    },
    lnbits() {
      lnbits ??= createLnbitsClient({ url: config.lnbits.url, timeoutMs: config.lnbits.requestTimeoutMs });
      return lnbits;
    },
    actor(explicit) {
      if (explicit?.trim()) return explicit.trim();
      try {
        return os.userInfo().username || env.USER || 'unknown';
      } catch {
        return env.USER ?? 'unknown';
      }
    },
    async close() {
      const c = connection;
      connection = undefined;
      await Promise.allSettled([pool?.end(), c?.then((x) => x.close())]);
      pool = undefined;
    },
  };
}

/** pg error codes meaning "cannot reach or log in to the ledger". */
const PG_UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'ETIMEDOUT', 'ECONNRESET', 'EHOSTUNREACH', '57P01', '57P03', '3D000', '28P01', '28000']);

/** One line naming the problem, with the exit code that says what kind of problem it is. */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof ConfigError) return new CliError(err.message, EXIT.usage);
  if (err instanceof z.ZodError) return new CliError(describeZodError(err), EXIT.usage);
  if (err instanceof LedgerNotFoundError) return new CliError(err.message, EXIT.notFound);
  if (err instanceof BusinessError) return new CliError(err.message, EXIT.usage);
  if (err instanceof WorkflowNotFoundError) return new CliError(`workflow not found: ${err.message}`, EXIT.notFound);
  // An update the workflow's validator refused ("nothing to retry: the cash-out is completed"): wrong request.
  if (err instanceof WorkflowUpdateFailedError) return new CliError(`refused by the workflow: ${err.cause?.message ?? err.message}`, EXIT.usage);
  if (err instanceof WorkflowFailedError) return new CliError(`${err.message}${err.cause ? `: ${err.cause.message}` : ''}`, EXIT.findings);
  if (err instanceof ServiceError) return new CliError(`Temporal: ${err.message}`, EXIT.unavailable);
  if (err instanceof LnbitsTransientError) return new CliError(err.message, EXIT.unavailable);
  if (err instanceof LnbitsAuthError || err instanceof LnbitsRejectedError || err instanceof LnbitsResponseError) return new CliError(err.message, EXIT.usage);
  const e = err as { code?: string; message?: string; constraint?: string };
  if (e.code && PG_UNREACHABLE.has(e.code)) return new CliError(`ledger database unreachable: ${e.message ?? e.code}`, EXIT.unavailable);
  // Constraint and trigger refusals of the ledger (23xxx integrity, restrict_violation): the request was wrong.
  if (e.code && /^23/.test(e.code)) return new CliError(`ledger refused the change: ${e.message ?? e.code}`, EXIT.usage);
  if (err instanceof Error && /connection terminated|timeout exceeded when trying to connect/i.test(err.message)) {
    return new CliError(`ledger database unreachable: ${err.message}`, EXIT.unavailable);
  }
  return new CliError(err instanceof Error ? err.message : String(err), EXIT.unavailable);
}

/** Runs a command body with a fresh context and closes everything afterwards, also on failure. */
export async function withContext<T>(fn: (ctx: Context) => Promise<T>): Promise<T> {
  let ctx: Context | undefined;
  try {
    ctx = createContext(loadConfig({ env: cliEnv() }));
    return await fn(ctx);
  } catch (err) {
    throw toCliError(err);
  } finally {
    await ctx?.close();
  }
}

/** Message of any thrown value (for the "degrades gracefully" parts of status and checks). */
export const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));
