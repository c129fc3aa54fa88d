import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** Coordinates of the real components that `test/run.ts` started for this test run. */
export interface TestStack {
  postgres: {
    /** Superuser URL of the maintenance database; use createTestDatabase() for an isolated one. */
    adminUrl: string;
  };
  temporal: { address: string; namespace: string; cliPath: string };
  lnbits: {
    url: string;
    /** Superuser's account id and a bearer token for the superuser endpoints. */
    superuserId: string;
    superuserToken: string;
  };
  sshd: {
    host: string;
    port: number;
    username: string;
    privateKeyPath: string;
    /** `SHA256:<base64>` of the server's host key. */
    hostKeySha256: string;
  };
}

let cached: TestStack | undefined;

export function getStack(): TestStack {
  if (cached) return cached;
  const file = process.env.SATMACHINE_TEST_STACK;
  if (!file) throw new Error('SATMACHINE_TEST_STACK is not set: run tests with `npm test` (test/run.ts starts the stack)');
  cached = JSON.parse(readFileSync(file, 'utf8')) as TestStack;
  return cached;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** A fresh, empty database on the run's PostgreSQL; `drop()` removes it. */
export async function createTestDatabase(prefix = 't'): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const { adminUrl } = getStack().postgres;
  const name = `${prefix.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  return {
    name,
    url: withDatabase(adminUrl, name),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
