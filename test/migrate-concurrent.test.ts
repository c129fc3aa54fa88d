/**
 * Several processes migrating one ledger at once (workers started together): node-pg-migrate's advisory lock
 * refuses all but one at once; migrateLedger waits for the other run instead of failing the worker's start.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { migrateLedger } from '../db/migrate';
import { createTestDatabase } from './support/stack';

test('six concurrent migrateLedger calls on a fresh ledger all succeed; the migrations are applied once', async () => {
  const db = await createTestDatabase('migrate_concurrent');
  try {
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => migrateLedger(db.url)));
    assert.deepEqual(results.map((r) => r.status), Array(6).fill('fulfilled'), JSON.stringify(results.filter((r) => r.status === 'rejected')));
    const applied = results.flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
    assert.equal(new Set(applied).size, applied.length, 'no migration applied twice');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM satoshimachine.pgmigrations`);
      assert.equal(rows[0]!.n, applied.length, 'every migration recorded once');
    } finally {
      await client.end();
    }
  } finally {
    await db.drop();
  }
});
