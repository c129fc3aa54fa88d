/**
 * `satmachine`: the emergency runbook as commands. Each command lives in client/commands/<name>.ts
 * and registers itself here. Errors print one line naming the problem and exit with a meaningful code
 * (client/output.ts: 0 ok, 1 findings, 2 bad input/config, 3 unreachable, 4 not found).
 */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/load';
import { CliError, EXIT, runWithIo, type CliIo, type Writer } from './output';
import { registerCommission } from './commands/commission';
import { registerSetup } from './commands/setup';
import { registerStatus } from './commands/status';
import { registerEmergency } from './commands/emergency';
import { registerPoller } from './commands/poller';
import { registerClients } from './commands/clients';
import { registerDeposits } from './commands/deposits';
import { registerTx } from './commands/tx';
import { registerPayouts } from './commands/payouts';
import { registerAdjust } from './commands/adjust';
import { registerChecks } from './commands/checks';
import { registerConnection } from './commands/connection';
import { registerConfig } from './commands/config';
import { registerExport } from './commands/export';
import { registerImport } from './commands/import';

export function buildProgram(): Command {
  const program = new Command('satmachine')
    .description('Satoshi Machine operator CLI (Lamassu cash-outs → LNbits DCA payouts on Temporal)')
    .showHelpAfterError()
    .exitOverride();
  registerCommission(program);
  registerSetup(program);
  registerStatus(program);
  registerEmergency(program);
  registerPoller(program);
  registerClients(program);
  registerDeposits(program);
  registerTx(program);
  registerPayouts(program);
  registerAdjust(program);
  registerChecks(program);
  registerConnection(program);
  registerConfig(program);
  registerExport(program);
  registerImport(program);
  return program;
}

export interface MainOptions {
  /** Environment for loadConfig (default process.env). */
  env?: Record<string, string | undefined>;
  stdout?: Writer;
  stderr?: Writer;
}

/**
 * Runs one command and returns its exit code. Output, environment and exit code are scoped to this call
 * (client/output.ts), so tests run the CLI in-process with their own env and capture what it printed.
 */
export async function main(argv: string[], opts: MainOptions = {}): Promise<number> {
  const io: CliIo = { stdout: opts.stdout ?? process.stdout, stderr: opts.stderr ?? process.stderr, env: opts.env ?? process.env, exitCode: EXIT.ok };
  return runWithIo(io, async () => {
    try {
      const program = buildProgram();
      program.configureOutput({ writeOut: (t) => io.stdout.write(t), writeErr: (t) => io.stderr.write(t) });
      for (const sub of program.commands) applyOutput(sub, io);
      await program.parseAsync(argv, { from: 'user' });
      return io.exitCode;
    } catch (err) {
      if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      if (err instanceof CliError) {
        io.stderr.write(`satmachine: ${err.message}\n`);
        return err.exitCode;
      }
      if (err instanceof ConfigError) {
        io.stderr.write(`satmachine: ${err.message}\n`);
        return EXIT.usage;
      }
      io.stderr.write(`satmachine: ${(err as Error).message ?? String(err)}\n`);
      return EXIT.unavailable;
    }
  });
}

/** Commander's help and usage errors go to the call's streams too (configureOutput is per command). */
function applyOutput(cmd: Command, io: CliIo): void {
  cmd.configureOutput({ writeOut: (t) => io.stdout.write(t), writeErr: (t) => io.stderr.write(t) });
  for (const sub of cmd.commands) applyOutput(sub, io);
}

if (require.main === module || process.argv[1]?.endsWith('satmachine.cjs') || process.argv[1]?.endsWith('satmachine')) {
  main(process.argv.slice(2)).then((code) => process.exit(code), () => process.exit(1));
}
