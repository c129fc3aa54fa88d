/**
 * Starting the console: `satmachine console` / `npm run console`, and the sandbox. One long-lived Context
 * (the CLI's: ledger pool, Temporal client, LNbits client) serves every request.
 */
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema';
import { consoleBaseUrl } from '../client/client-actions';
import { createContext, type Context } from '../client/context';
import { buildConsole } from './server';
import { SessionStore } from './sessions';

export interface RunningConsole {
  /** Where the server listens, e.g. http://127.0.0.1:8080. */
  url: string;
  ctx: Context;
  close(): Promise<void>;
}

export async function startConsole(config: Config, opts: { ctx?: Context } = {}): Promise<RunningConsole> {
  const ctx = opts.ctx ?? createContext(config);
  let url = '';
  const app = await buildConsole({
    config,
    ctx,
    sessions: new SessionStore(config.console.sessionHours * 3600_000),
    baseUrl: () => (config.console.publicUrl ? consoleBaseUrl(config) : url),
  });
  try {
    await app.listen({ host: config.console.host, port: config.console.port });
  } catch (err) {
    if (!opts.ctx) await ctx.close();
    throw err;
  }
  const address = app.server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  url = `http://${host}:${address.port}`;
  return {
    url,
    ctx,
    async close() {
      await app.close();
      if (!opts.ctx) await ctx.close();
    },
  };
}
