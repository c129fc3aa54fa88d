/**
 * `satmachine config check`: validates the config (loadConfig), tests each LNbits key (exists, right kind,
 * right wallet), the ledger connection and the pinned SSH host key. Exit 1 when a check fails, 3 when a
 * service could not be reached to check, 0 when everything checked out.
 */
import type { Command } from 'commander';
import { withContext } from '../context';
import { checkConfig, formatConfigCheck } from '../config-check';
import { EXIT, print, setExitCode } from '../output';

export function registerConfig(program: Command): void {
  program
    .command('config')
    .description('configuration')
    .command('check')
    .description('validate the config and test every LNbits key, the ledger and the SSH host key')
    .option('--json', 'print JSON')
    .action((o: { json?: boolean }) =>
      withContext(async (ctx) => {
        const report = await checkConfig(ctx.config);
        print(Boolean(o.json), report, () => formatConfigCheck(report));
        setExitCode(!report.ok ? EXIT.findings : !report.complete ? EXIT.unavailable : EXIT.ok);
      }),
    );
}
