/**
 * Client statement links (table statement_links). The link's token is 32 random bytes shown once to the
 * operator; the ledger keeps only its SHA-256, so a copy of the database does not hold working links.
 * A client has at most one active link: issuing a new one revokes the previous one in the same transaction.
 */
import { createHash, randomBytes } from 'node:crypto';
import type pg from 'pg';
import { type Queryable, withTransaction } from './db';

/** base64url of 32 random bytes: 43 characters, 256 bits. */
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export const statementTokenHash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

export async function issueStatementLink(pool: pg.Pool, clientId: string, actor: string): Promise<{ token: string; revokedPrevious: number }> {
  const token = randomBytes(32).toString('base64url');
  return withTransaction(pool, async (c) => {
    const revoked = await c.query(
      `UPDATE satoshimachine.statement_links SET revoked_at = now(), revoked_by = $2 WHERE client_id = $1 AND revoked_at IS NULL`,
      [clientId, actor],
    );
    await c.query(`INSERT INTO satoshimachine.statement_links (client_id, token_sha256, created_by) VALUES ($1, $2, $3)`, [clientId, statementTokenHash(token), actor]);
    return { token, revokedPrevious: revoked.rowCount ?? 0 };
  });
}

export async function revokeStatementLinks(db: Queryable, clientId: string, actor: string): Promise<number> {
  const r = await db.query(`UPDATE satoshimachine.statement_links SET revoked_at = now(), revoked_by = $2 WHERE client_id = $1 AND revoked_at IS NULL`, [clientId, actor]);
  return r.rowCount ?? 0;
}

/** The client an active link belongs to, or null (malformed, unknown or revoked token: all alike). */
export async function clientOfStatementToken(db: Queryable, token: string): Promise<string | null> {
  if (!TOKEN_RE.test(token)) return null;
  const { rows } = await db.query(`SELECT client_id FROM satoshimachine.statement_links WHERE token_sha256 = $1 AND revoked_at IS NULL`, [statementTokenHash(token)]);
  return rows.length ? String(rows[0].client_id) : null;
}

/** When the client's active link was made (the token itself cannot be shown again). */
export async function activeStatementLink(db: Queryable, clientId: string): Promise<{ createdAt: string; createdBy: string } | null> {
  const { rows } = await db.query(`SELECT created_at, created_by FROM satoshimachine.statement_links WHERE client_id = $1 AND revoked_at IS NULL`, [clientId]);
  return rows.length ? { createdAt: (rows[0].created_at as Date).toISOString(), createdBy: String(rows[0].created_by) } : null;
}
