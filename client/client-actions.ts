/**
 * Operator actions on clients, shared by the CLI (client/commands/clients.ts, statement-link.ts) and the web
 * console: every rule (the invoice key verified with LNbits, stored encrypted, the change recorded with who did
 * it) lives here once.
 */
import { CLIENT_MODES, createClient, getClient, setClientStatus, type ClientMode, type ClientRow, type ClientStatus } from '../adapters/ledger';
import { recordOperatorEvent } from '../adapters/ledger/operator-control';
import { issueStatementLink, revokeStatementLinks } from '../adapters/ledger/statement-links';
import type { Config } from '../config/schema';
import type { Context } from './context';
import { formatFiat } from './args';
import { checkInvoiceKey } from './lnbits-keys';
import { CliError, EXIT } from './output';

export { CLIENT_MODES };

export interface NewClient {
  name: string;
  walletId: string;
  invoiceKey: string;
  currency?: string;
  mode?: ClientMode;
}

/** Fixed mode is not implemented yet: such a client would never be paid, silently. */
export function assertSupportedMode(mode: ClientMode | undefined): void {
  if (mode === 'fixed') throw new CliError('--mode fixed: not supported yet (fixed-amount DCA is not implemented: the client would never be paid); use --mode flow', EXIT.usage);
}

/** Verifies the invoice key with LNbits (an invoice key of exactly this wallet), stores the client, records it. */
export async function addVerifiedClient(ctx: Context, input: NewClient, actor: string): Promise<{ client: ClientRow; keyCheck: string }> {
  assertSupportedMode(input.mode);
  if (!ctx.config.encryptionKey) throw new CliError('encryptionKey: required to store invoice keys (SATMACHINE_ENCRYPTION_KEY)', EXIT.usage);
  const check = await checkInvoiceKey(ctx.lnbits(), input.invoiceKey, input.walletId);
  if (check.status === 'unreachable') throw new CliError(`cannot verify the invoice key: ${check.detail}`, EXIT.unavailable);
  if (check.status !== 'ok') throw new CliError(`invoice key refused: ${check.detail}`, EXIT.usage);
  const pool = ctx.pool();
  const client = await createClient(
    pool,
    { name: input.name, walletId: input.walletId, invoiceKey: input.invoiceKey, currency: input.currency ?? ctx.config.lamassu.fiatCode, mode: input.mode ?? 'flow' },
    ctx.config.encryptionKey,
  ).catch((err: unknown) => {
    if ((err as { constraint?: string }).constraint === 'clients_wallet_id_key') throw new CliError(`--wallet-id: wallet ${input.walletId} already belongs to a client`, EXIT.usage);
    throw err;
  });
  await recordOperatorEvent(pool, actor, 'client-added', { clientId: client.id, walletId: client.walletId, name: client.name });
  return { client, keyCheck: check.detail };
}

/**
 * Sets a client's status. Closing a client that still has a balance is refused unless `force` (then the
 * returned closedWithBalance names the amount, for a warning).
 */
export async function changeClientStatus(
  ctx: Context,
  clientId: string,
  status: ClientStatus,
  reason: string | undefined,
  actor: string,
  opts: { force?: boolean } = {},
): Promise<{ before: ClientRow; after: ClientRow; closedWithBalance: string | null }> {
  const pool = ctx.pool();
  const before = await getClient(pool, clientId);
  const amount = `${formatFiat(before.balance, ctx.config.lamassu.fiatDecimals)} ${before.currency}`;
  if (status === 'closed' && before.balance > 0 && !opts.force) {
    throw new CliError(`client ${before.name} (${clientId}) still has a balance of ${amount}: settle it first (adjust / refund) or close with --force`, EXIT.usage);
  }
  const after = await setClientStatus(pool, clientId, status).catch((err: unknown) => {
    // An imported client whose wallet was not linked: no payout could reach it.
    if ((err as { constraint?: string }).constraint === 'clients_active_has_key') {
      throw new CliError(`client ${clientId} has no invoice key yet: link it with \`npx satmachine clients set-key ${clientId}\` first`, EXIT.usage);
    }
    throw err;
  });
  await recordOperatorEvent(pool, actor, 'client-status', {
    clientId, from: before.status, to: status, reason: reason ?? null,
    ...(status === 'closed' ? { balanceFiatMinor: before.balance, forced: Boolean(opts.force) } : {}),
  });
  return { before, after, closedWithBalance: status === 'closed' && before.balance > 0 ? amount : null };
}

/** Where statements are served: the console's public URL (the reverse proxy), else its own address. */
export function consoleBaseUrl(config: Config): string {
  if (config.console.publicUrl) return config.console.publicUrl.replace(/\/+$/, '');
  const host = config.console.host.includes(':') ? `[${config.console.host}]` : config.console.host;
  return `http://${host}:${config.console.port}`;
}

export const statementPath = (token: string): string => `/statement/${token}`;

/** A new statement link for the client (its previous one stops working); the URL is shown only now. */
export async function newStatementLink(ctx: Context, clientId: string, actor: string, baseUrl = consoleBaseUrl(ctx.config)): Promise<{ url: string; revokedPrevious: number; client: ClientRow }> {
  const pool = ctx.pool();
  const client = await getClient(pool, clientId);
  const { token, revokedPrevious } = await issueStatementLink(pool, clientId, actor);
  await recordOperatorEvent(pool, actor, 'statement-link-issued', { clientId, revokedPrevious });
  return { url: `${baseUrl}${statementPath(token)}`, revokedPrevious, client };
}

export async function revokeStatementLink(ctx: Context, clientId: string, actor: string): Promise<{ revoked: number; client: ClientRow }> {
  const pool = ctx.pool();
  const client = await getClient(pool, clientId);
  const revoked = await revokeStatementLinks(pool, clientId, actor);
  await recordOperatorEvent(pool, actor, 'statement-link-revoked', { clientId, revoked });
  return { revoked, client };
}
