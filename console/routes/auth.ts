/** Login and logout. Operators come from config.console.operators (scrypt hashes); logins are rate limited. */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { recordOperatorEvent } from '../../adapters/ledger/operator-control';
import { html } from '../html';
import { page } from '../layout';
import { type ConsoleDeps, flashOf } from '../forms';
import { hashPassword, verifyPassword } from '../passwords';
import { SESSION_COOKIE } from '../sessions';

const loginForm = z.object({ name: z.string().max(200).default(''), password: z.string().max(1000).default(''), next: z.string().max(500).optional() });

/** Only a local path (not `//host`): the login never redirects to another site. */
const safeNext = (next: string | undefined) => (next && /^\/(?![/\\])/.test(next) ? next : '/');

export function registerAuth(app: FastifyInstance, deps: ConsoleDeps, secureCookies: boolean): void {
  // Compared against when the name is unknown, so the answer takes as long as for a known name.
  const dummyHash = hashPassword(Math.random().toString(36).repeat(4));

  app.get('/login', (req, reply) => {
    const next = safeNext(z.object({ next: z.string().max(500).optional() }).safeParse(req.query).data?.next);
    const csrf = reply.generateCsrf();
    const noOperators = deps.config.console.operators.length === 0;
    return reply.type('text/html; charset=utf-8').send(
      page({
        title: 'Operator login',
        flash: flashOf(req),
        body: html`
${noOperators ? html`<p class="flash err">No operator is configured (console.operators; make a hash with <code>satmachine console hash-password</code>).</p>` : ''}
<form method="post" action="/login" class="box">
  <input type="hidden" name="_csrf" value="${csrf}">
  <input type="hidden" name="next" value="${next}">
  <label>Name <input name="name" autocomplete="username" required autofocus></label>
  <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
  <button>Log in</button>
</form>`,
      }),
    );
  });

  app.post(
    '/login',
    {
      config: { rateLimit: { max: deps.config.console.loginAttemptsPerMinute, timeWindow: 60_000 } },
      preHandler: (req, reply, done) => app.csrfProtection(req, reply, done),
    },
    async (req, reply) => {
      const form = loginForm.safeParse(req.body ?? {});
      const name = form.success ? form.data.name.trim() : '';
      const password = form.success ? form.data.password : '';
      const operator = deps.config.console.operators.find((o) => o.name === name);
      const ok = await verifyPassword(password, operator?.passwordHash ?? (await dummyHash));
      const pool = deps.ctx.pool();
      if (!operator || !ok) {
        await recordOperatorEvent(pool, 'console', 'console-login-failed', { name: name.slice(0, 100), ip: req.ip }).catch(() => undefined);
        return reply.redirect(`/login?err=${encodeURIComponent('Wrong name or password.')}`, 303);
      }
      const sessionId = deps.sessions.create(operator.name);
      await recordOperatorEvent(pool, operator.name, 'console-login', { ip: req.ip });
      reply.setCookie(SESSION_COOKIE, sessionId, {
        path: '/',
        httpOnly: true,
        sameSite: 'strict',
        secure: secureCookies,
        maxAge: deps.config.console.sessionHours * 3600,
      });
      return reply.redirect(safeNext(form.success ? form.data.next : undefined), 303);
    },
  );

  app.post('/logout', { preHandler: (req, reply, done) => app.csrfProtection(req, reply, done) }, async (req, reply) => {
    const operator = deps.sessions.operatorOf(req.cookies[SESSION_COOKIE]);
    deps.sessions.destroy(req.cookies[SESSION_COOKIE]);
    if (operator) await recordOperatorEvent(deps.ctx.pool(), operator, 'console-logout', {}).catch(() => undefined);
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    return reply.redirect('/login', 303);
  });
}
