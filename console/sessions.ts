/**
 * Operator sessions: a random 256-bit id in an HttpOnly, SameSite=Strict cookie (Secure behind TLS); the
 * server keeps only its SHA-256 with the operator's name and the expiry, in memory — a console restart logs
 * everyone out, which is the safe failure.
 */
import { createHash, randomBytes } from 'node:crypto';

export const SESSION_COOKIE = 'satmachine_session';

interface Session {
  operator: string;
  expiresAt: number;
}

const hash = (id: string) => createHash('sha256').update(id).digest('hex');

export class SessionStore {
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly ttlMs: number) {}

  create(operator: string): string {
    this.prune();
    const id = randomBytes(32).toString('base64url');
    this.sessions.set(hash(id), { operator, expiresAt: Date.now() + this.ttlMs });
    return id;
  }

  /** The operator of a live session, or null. */
  operatorOf(id: string | undefined): string | null {
    if (!id) return null;
    const s = this.sessions.get(hash(id));
    if (!s) return null;
    if (s.expiresAt <= Date.now()) {
      this.sessions.delete(hash(id));
      return null;
    }
    return s.operator;
  }

  destroy(id: string | undefined): void {
    if (id) this.sessions.delete(hash(id));
  }

  private prune(): void {
    const now = Date.now();
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
  }
}
