/**
 * `satmachine`: the emergency runbook as commands. Each command lives in client/commands/<name>.ts
 * and registers itself here. Errors print one line naming the problem and exit with a meaningful code
 * (client/output.ts: 0 ok, 1 findings, 2 bad input/config, 3 unreachable, 4 not found).
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load';
import { CliError, EXIT } from './output';
import { registerCommission } from './commands/commission';

export function buildProgram(): Command {
  const program = new Command('satmachine')
    .description('Satoshi Machine operator CLI (Lamassu cash-outs → LNbits DCA payouts on Temporal)')
    .showHelpAfterError()
    .exitOverride();
  registerCommission(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
    return process.exitCode === undefined ? EXIT.ok : Number(process.exitCode);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
    if (err instanceof CliError) {
      process.stderr.write(`satmachine: ${err.message}\n`);
      return err.exitCode;
    }
    if (err instanceof ConfigError) {
      process.stderr.write(`satmachine: ${err.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`satmachine: ${(err as Error).message ?? String(err)}\n`);
    return EXIT.unavailable;
  }
}

if (require.main === module || process.argv[1]?.endsWith('satmachine.cjs') || process.argv[1]?.endsWith('satmachine')) {
  main(process.argv.slice(2)).then((code) => process.exit(code), () => process.exit(1));
}
