/**
 * `satmachine keys rotate`: re-encrypt every stored client invoice key under a new SATMACHINE_ENCRYPTION_KEY,
 * in one transaction. The current key comes from the config; the new one from a file, an environment variable
 * or stdin (never an argument: it would land in the shell history and the process list). Afterwards every
 * worker and CLI must use the new key (runbook: "Encryption key custody").
 */
import type { Command } from 'commander';
import { rotateEncryptionKey, verifyEncryptionKey, KeyRotationError } from '../../adapters/ledger/key-custody';
import { recordOperatorEvent } from '../../adapters/ledger/operator-control';
import { readSecret } from '../args';
import { withContext } from '../context';
import { CliError, EXIT, cliEnv, print } from '../output';

export function registerKeys(program: Command): void {
  program
    .command('keys')
    .description('custody of the encryption key of the stored client keys')
    .command('rotate')
    .description('re-encrypt every stored client invoice key under a new encryption key (one transaction)')
    .option('--new-key-file <path>', 'file holding the new key (at least 32 characters)')
    .option('--new-key-env <var>', 'environment variable holding the new key')
    .option('--new-key-stdin', 'read the new key from stdin')
    .option('--actor <name>', 'who (default: the OS user)')
    .option('--json', 'print JSON')
    .action((o: { newKeyFile?: string; newKeyEnv?: string; newKeyStdin?: boolean; actor?: string; json?: boolean }) =>
      withContext(async (ctx) => {
        const current = ctx.config.encryptionKey;
        if (!current) throw new CliError('encryptionKey: the current key is required (SATMACHINE_ENCRYPTION_KEY)', EXIT.usage);
        const newKey = await readSecret({ env: o.newKeyEnv, file: o.newKeyFile, stdin: o.newKeyStdin }, 'new-key', cliEnv());
        const pool = ctx.pool();
        let rotated: number;
        try {
          rotated = await rotateEncryptionKey(pool, current, newKey);
        } catch (err) {
          if (err instanceof KeyRotationError) throw new CliError(err.message, EXIT.usage);
          throw err;
        }
        // Proof, not hope: every stored key opens with the new key.
        const v = await verifyEncryptionKey(pool, newKey);
        if (v.unreadable.length) throw new CliError(`after the rotation ${v.unreadable.length} client keys do not open with the new key`, EXIT.findings);
        await recordOperatorEvent(pool, ctx.actor(o.actor), 'encryption-key-rotated', { clientKeys: rotated });
        print(Boolean(o.json), { rotated }, () =>
          `re-encrypted ${rotated} client keys under the new key. Set SATMACHINE_ENCRYPTION_KEY to it for every worker and CLI now, restart the workers, and keep the new key where the old one was kept (the old key no longer opens anything)`,
        );
      }),
    );
}
