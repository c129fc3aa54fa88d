/**
 * Fault injection on the real LNbits: one write to a private LNbits' own SQLite database (its `apipayments`
 * rows), for outcomes LNbits produces but not on demand (a crash between its two rows of a payment, a row
 * failed after the payment). Only ever on a test's private LNbits (test/support/lnbits-server.ts).
 */
import { execFile } from 'node:child_process';
import { lnbitsPython } from '../../chaos/lnbits-records';

const EDIT_PY = `
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=30)
n = con.execute(sys.argv[2], sys.argv[3:]).rowcount
con.commit()
print(n)
`;

/** Runs one statement on LNbits' database file; returns the rows changed. */
export function lnbitsWrite(dbFile: string, sql: string, params: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile(lnbitsPython(), ['-c', EDIT_PY, dbFile, sql, ...params], { timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(Number(stdout.trim()))));
  });
}
