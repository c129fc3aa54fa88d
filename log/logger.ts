import pino, { type Logger } from 'pino';

/**
 * Every path that can hold a secret. Keys, tokens, SSH keys and connection strings (which may carry
 * a password) are censored wherever they appear in a logged object, up to two levels deep.
 */
const SECRET_KEYS = [
  'adminKey', 'invoiceKey', 'inkey', 'adminkey', 'apiKey', 'superuserToken', 'token', 'password',
  'privateKey', 'passphrase', 'encryptionKey', 'tlsKey', 'databaseUrl', 'connectionString', 'smtpUrl',
  'passwordHash', 'authorization', 'Authorization', 'X-Api-Key', 'x-api-key', 'lamassuDatabaseUrl', 'ledgerDatabaseUrl',
];
export const redactPaths = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`, `*.*.*.${k}`]);

export function createLogger(opts: { level?: string; name?: string; destination?: pino.DestinationStream } = {}): Logger {
  const options = {
    name: opts.name ?? 'satmachine',
    level: opts.level ?? process.env.LOG_LEVEL ?? 'info',
    redact: { paths: redactPaths, censor: '[redacted]' },
  };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

export type { Logger };
