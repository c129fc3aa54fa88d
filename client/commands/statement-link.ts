/**
 * `satmachine clients statement-link <client> [--revoke]`: issue a client's statement link (printed once: the
 * ledger keeps only its hash; a new link replaces the previous one) or revoke it.
 */
import type { Command } from 'commander';
import { newStatementLink, revokeStatementLink } from '../client-actions';
import { parseArgs, uuidArg } from '../args';
import { withContext } from '../context';
import { print } from '../output';

/** Registered by `registerClients` as a subcommand of `clients`. */
export function registerStatementLink(clients: Command): void {
  clients
    .command('statement-link <client>')
    .description("make a new statement link for the client (shown once; the previous link stops working), or --revoke it")
    .option('--revoke', 'revoke the client\'s statement link (the page then answers 404)')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((id: string, o: { revoke?: boolean; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const clientId = parseArgs(uuidArg('<client>'), id);
        const actor = ctx.actor(o.actor);
        if (o.revoke) {
          const r = await revokeStatementLink(ctx, clientId, actor);
          print(Boolean(o.json), { clientId, revoked: r.revoked }, () => `${r.client.name}: ${r.revoked ? 'statement link revoked' : 'had no active statement link'}`);
          return;
        }
        const r = await newStatementLink(ctx, clientId, actor);
        print(Boolean(o.json), { clientId, url: r.url, revokedPrevious: r.revokedPrevious }, () =>
          `${r.url}\n(statement of ${r.client.name}; shown only now${r.revokedPrevious ? '; the previous link no longer works' : ''})`,
        );
      }),
    );
}
