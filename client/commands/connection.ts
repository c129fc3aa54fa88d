/** `satmachine connection test`: the step-by-step Lamassu check (client/commands/connection-test.ts). */
import type { Command } from 'commander';
import { withContext } from '../context';
import { setExitCode, stdout } from '../output';
import { runConnectionTest } from './connection-test';

export function registerConnection(program: Command): void {
  program
    .command('connection')
    .description('the Lamassu connection')
    .command('test')
    .description('TCP, pinned host key, SSH key, database, cash_out_txs — step by step; exit 1 at the first failing step')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      withContext(async (ctx) => {
        setExitCode(await runConnectionTest(ctx.config, { json: Boolean(o.json), out: stdout() }));
      }),
    );
}
