/**
 * The web console: client statements (public, behind an unguessable link) and the operator pages (login
 * required). Fastify with its official plugins for forms, cookies, CSRF and rate limiting; server-rendered
 * HTML, no JavaScript in the pages. Every operator action calls the same functions as the CLI.
 *
 * Meant to listen on 127.0.0.1 behind the operator's TLS reverse proxy (docs/runbook.md): with behindTls the
 * cookies are Secure and X-Forwarded-* from the proxy is trusted.
 */
import { randomBytes } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyRateLimit from '@fastify/rate-limit';
import { toCliError } from '../client/context';
import { EXIT } from '../client/output';
import { html } from './html';
import { CONSOLE_CSS, page } from './layout';
import type { ConsoleDeps } from './forms';
import { SESSION_COOKIE } from './sessions';
import { registerAuth } from './routes/auth';
import { registerStatement } from './routes/statement';
import { registerDashboard } from './routes/dashboard';
import { registerClientPages } from './routes/clients';
import { registerDepositPages } from './routes/deposits';
import { registerCashOutPages } from './routes/cashouts';
import { registerReconciliationPages } from './routes/reconciliation';
import { registerEmergencyPages } from './routes/emergency';

/** Whether cookies get the Secure flag: explicit config, else an https public URL. */
export const behindTls = (deps: ConsoleDeps): boolean => deps.config.console.behindTls ?? Boolean(deps.config.console.publicUrl?.startsWith('https:'));

const HTTP_OF_EXIT: Record<number, number> = { [EXIT.usage]: 400, [EXIT.notFound]: 404, [EXIT.unavailable]: 503 };

const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  // Statement links carry their token in the path: never send it on to another site.
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

export async function buildConsole(deps: ConsoleDeps): Promise<FastifyInstance> {
  const tls = behindTls(deps);
  // No Fastify logger (so no request logging): statement URLs hold their token, form bodies keys and passwords.
  const app = Fastify({ logger: false, trustProxy: tls ? 'loopback' : false, bodyLimit: 64 * 1024 });
  await app.register(fastifyCookie, { secret: randomBytes(32).toString('base64url') });
  await app.register(fastifyFormbody);
  await app.register(fastifyCsrf, { cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, secure: tls, signed: true } });
  await app.register(fastifyRateLimit, { global: false });
  app.decorateRequest('operator', '');

  app.addHook('onSend', async (_req, reply, payload) => {
    reply.headers(SECURITY_HEADERS);
    if (tls) reply.header('strict-transport-security', 'max-age=31536000');
    return payload;
  });

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    // Errors of the shared CLI functions keep their meaning: not found → 404, bad input → 400, unreachable → 503.
    const cli = err.statusCode ? null : toCliError(err);
    const status = cli ? (HTTP_OF_EXIT[cli.exitCode] ?? 500) : err.statusCode! >= 400 && err.statusCode! < 600 ? err.statusCode! : 500;
    if (status >= 500) deps.ctx.log.error({ err: err.message, path: req.routeOptions.url }, 'console request failed');
    const text =
      status === 403 ? 'The form has expired or was not sent from this console (CSRF check failed). Go back, reload the page and try again.'
      : status === 429 ? 'Too many attempts. Wait a minute and try again.'
      : status >= 500 ? 'Something went wrong; the error is in the console log.'
      : (cli?.message ?? err.message);
    return reply.status(status).type('text/html; charset=utf-8').send(page({ title: `Error ${status}`, body: html`<p>${text}</p><p><a href="/">Back</a></p>` }));
  });
  app.setNotFoundHandler((_req, reply) => reply.status(404).type('text/html; charset=utf-8').send(page({ title: 'Not found', body: html`<p>There is nothing here.</p>` })));

  app.get('/assets/console.css', (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(CONSOLE_CSS));

  registerAuth(app, deps, tls);
  registerStatement(app, deps);

  // Operator pages: a session is required (else to the login page) and every POST carries the CSRF token.
  await app.register(async (op) => {
    op.addHook('preHandler', async (req, reply) => {
      const operator = deps.sessions.operatorOf(req.cookies[SESSION_COOKIE]);
      if (!operator) return reply.redirect(`/login?next=${encodeURIComponent(req.method === 'GET' ? req.url : '/')}`, 303);
      req.operator = operator;
    });
    op.addHook('preHandler', (req, reply, done) => (req.method === 'POST' ? app.csrfProtection(req, reply, done) : done()));
    registerDashboard(op, deps);
    registerClientPages(op, deps);
    registerDepositPages(op, deps);
    registerCashOutPages(op, deps);
    registerReconciliationPages(op, deps);
    registerEmergencyPages(op, deps);
  });
  return app;
}
