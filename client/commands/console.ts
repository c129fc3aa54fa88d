/**
 * `satmachine console`: the web console (client statements, operator pages) until Ctrl-C.
 * `satmachine console hash-password`: a scrypt hash for config.console.operators, the password read from
 * stdin or an environment variable (never the command line).
 */
import type { Command } from 'commander';
import { CliError, EXIT, cliEnv, print, progress } from '../output';
import { withContext } from '../context';
import { hashPassword, MIN_PASSWORD_LENGTH } from '../../console/passwords';
import { startConsole } from '../../console/main';

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export function registerConsole(program: Command): void {
  const cmd = program
    .command('console')
    .description('run the web console (client statements and operator pages) on config.console.host:port until Ctrl-C')
    .option('--port <n>', 'listen on this port (default config.console.port)')
    .action((o: { port?: string }) =>
      withContext(async (ctx) => {
        if (o.port !== undefined && !(/^\d{1,5}$/.test(o.port) && Number(o.port) <= 65535)) throw new CliError('--port: expected a port number', EXIT.usage);
        const config = o.port === undefined ? ctx.config : { ...ctx.config, console: { ...ctx.config.console, port: Number(o.port) } };
        if (!config.console.operators.length) progress('warning: no operator configured (console.operators): only statements can be served');
        const server = await startConsole(config, { ctx });
        progress(`console listening on ${server.url}${config.console.publicUrl ? ` (public URL ${config.console.publicUrl})` : ''}; Ctrl-C stops it`);
        await new Promise<void>((resolve) => {
          process.once('SIGINT', resolve);
          process.once('SIGTERM', resolve);
        });
        await server.close();
      }),
    );

  cmd
    .command('hash-password')
    .description(`print a password hash for config.console.operators (password from --password-env VAR or stdin, at least ${MIN_PASSWORD_LENGTH} characters)`)
    .option('--password-env <var>', 'environment variable holding the password')
    .option('--json', 'print JSON')
    .action(async (o: { passwordEnv?: string; json?: boolean }) => {
      const raw = o.passwordEnv !== undefined ? cliEnv()[o.passwordEnv] : await readAll(process.stdin);
      if (raw === undefined) throw new CliError(`--password-env: environment variable ${o.passwordEnv} is not set`, EXIT.usage);
      const password = raw.replace(/\r?\n$/, '');
      if (password.length < MIN_PASSWORD_LENGTH) throw new CliError(`password: at least ${MIN_PASSWORD_LENGTH} characters`, EXIT.usage);
      const passwordHash = await hashPassword(password);
      print(Boolean(o.json), { passwordHash }, () => passwordHash);
    });
}
