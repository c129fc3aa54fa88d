/** What every console route shares: its dependencies, form parsing, and the post/redirect/get of actions. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../config/schema';
import type { Context } from '../client/context';
import { toCliError } from '../client/context';
import { CliError, EXIT } from '../client/output';
import type { SessionStore } from './sessions';

export interface ConsoleDeps {
  config: Config;
  /** The same context the CLI commands run with (ledger pool, Temporal, LNbits), kept open by the server. */
  ctx: Context;
  sessions: SessionStore;
  /** Base URL of statement links: config.console.publicUrl, else the address the server listens on. */
  baseUrl(): string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The logged-in operator's name (set by the operator scope's guard). */
    operator: string;
  }
}

const flashSchema = z.object({ ok: z.string().max(500).optional(), err: z.string().max(500).optional() });
export const flashOf = (req: FastifyRequest): { ok?: string; err?: string } => {
  const r = flashSchema.safeParse(req.query);
  return r.success ? r.data : {};
};

/** Validates a form body; the first problems become one message naming the fields. */
export function parseForm<T extends z.ZodType>(schema: T, body: unknown): z.infer<T> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  throw new CliError(r.error.issues.map((i) => `${i.path.join('.') || 'form'}: ${i.message}`).join('; '), EXIT.usage);
}

const withFlash = (back: string, kind: 'ok' | 'err', message: string) => `${back}${back.includes('?') ? '&' : '?'}${kind}=${encodeURIComponent(message.slice(0, 400))}`;

/**
 * Runs an operator action and redirects back (303) with its outcome as the page's flash message. Errors go
 * through the CLI's own mapping (toCliError), so the console says what the CLI would say.
 */
export async function act(reply: FastifyReply, back: string, fn: () => Promise<string>): Promise<FastifyReply> {
  try {
    return reply.redirect(withFlash(back, 'ok', await fn()), 303);
  } catch (err) {
    return reply.redirect(withFlash(back, 'err', toCliError(err).message), 303);
  }
}

export const uuidParam = z.object({ id: z.uuid() });

/** Optional text field: empty input is absent. */
export const optionalText = (max: number) =>
  z.string().trim().max(max).optional().transform((v) => (v ? v : undefined));
