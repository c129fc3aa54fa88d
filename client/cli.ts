/**
 * `satmachine`: the emergency runbook as commands. Each command lives in client/commands/<name>.ts
 * and registers itself here. Errors print one line naming the problem and exit with a meaningful code
 * (client/output.ts: 0 ok, 1 findings, 2 bad input/config, 3 unreachable, 4 not found).
 */
import { Command, CommanderError, Help } from 'commander';
import { CliError, EXIT, runWithIo, type CliIo, type Writer } from './output';
import { COMMAND_MODULES, loadManifest, registerModule, type ManifestEntry } from './command-modules';

const newProgram = () =>
  new Command('satmachine')
    .description('Satoshi Machine operator CLI (Lamassu cash-outs → LNbits DCA payouts on Temporal)')
    .showHelpAfterError()
    .exitOverride();

/** The whole CLI: every command module loaded. */
export function buildProgram(): Command {
  const program = newProgram();
  for (const m of COMMAND_MODULES) registerModule(program, m.module);
  return program;
}

/**
 * The program for these arguments, loading as little as possible (start-up time): with a build's manifest,
 * only the named command's module, or for the top-level help none (stand-ins drawn from the manifest).
 */
export function programFor(argv: string[], manifest = loadManifest()): Command {
  if (!manifest) return buildProgram();
  const first = argv.find((a) => !a.startsWith('-'));
  const entry = manifest.find((e) => e.name === first || e.aliases.includes(first ?? ''));
  const program = newProgram();
  if (entry) {
    registerModule(program, entry.module);
    return program;
  }
  if (first !== undefined) return buildProgram(); // `help <cmd>`, unknown commands: the full program answers
  const terms = new Map<string, string>();
  for (const e of manifest) {
    program.command(e.name).aliases(e.aliases).description(e.description);
    terms.set(e.name, e.term);
  }
  program.configureHelp({ subcommandTerm: (cmd) => terms.get(cmd.name()) ?? new Help().subcommandTerm(cmd) });
  return program;
}

/** The top-level commands of the full program, as `npm run build` stores them. */
export function commandManifest(): ManifestEntry[] {
  return COMMAND_MODULES.flatMap((m) => {
    const program = newProgram();
    registerModule(program, m.module);
    const help = program.createHelp();
    return program.commands.map((c) => ({ module: m.module, name: c.name(), aliases: c.aliases(), term: help.subcommandTerm(c), description: c.description() }));
  });
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
      const program = programFor(argv);
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
      // By name: importing ConfigError would load the config loader (zod, yaml) for every `--help`.
      if (err instanceof Error && err.name === 'ConfigError') {
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
