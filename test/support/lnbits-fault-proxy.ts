/**
 * A fault proxy in front of the real LNbits, for faults the real server cannot be made to show on demand.
 * Every request is forwarded unchanged to LNbits and answered with LNbits' own answer, except:
 * - while `down` is set, it answers 503 to everything without forwarding (LNbits unavailable);
 * - while `delayPayMs` > 0, it holds back the ANSWER of each payment (POST /api/v1/payments with out:true)
 *   after LNbits has made it — the window in which a crash leaves a payout's outcome unknown to its worker;
 * - `intercept`, when set, sees each request first and may answer it itself (`answer`, nothing forwarded) or
 *   forward it and replace LNbits' answer (`replace`, given LNbits' status and JSON; it may be async, e.g. to
 *   fetch another wallet's invoice from the real LNbits): a lost answer, a refusal, a rewritten answer (an
 *   attacker on the path: another invoice, a fake success, another hash);
 * - while `fail5xx` is set, it answers that status (e.g. 500, 502) to everything without forwarding;
 * - `delayMs` holds back every request (slow LNbits) before forwarding it;
 * - `holdPayMs` holds back each payment REQUEST before forwarding it — and forwards it even when the caller
 *   gave up meanwhile: a pay request "in flight" that lands late (the zombie attempt of a timed-out transfer);
 * - `refuse()` stops accepting connections (the caller sees ECONNREFUSED: nothing was sent), `accept()` resumes
 *   on the same port.
 */
import http from 'node:http';
import type net from 'node:net';

export interface InterceptedRequest {
  method: string;
  path: string;
  /** A payment (POST /api/v1/payments with out:true). */
  isPayment: boolean;
  /** An invoice being created (POST /api/v1/payments with out:false). */
  isInvoice: boolean;
  json: unknown;
}
export interface Upstream {
  status: number;
  json: unknown;
}
export type Intercept = (r: InterceptedRequest) =>
  | { answer: Upstream }
  | { replace: (up: Upstream) => Upstream | undefined | Promise<Upstream | undefined> }
  | undefined;

export interface FaultProxy {
  url: string;
  down: boolean;
  fail5xx: number | null;
  delayMs: number;
  holdPayMs: number;
  /** Payment requests held back now (holdPayMs), not yet forwarded. */
  paysHeld: number;
  refuse: () => Promise<void>;
  accept: () => Promise<void>;
  delayPayMs: number;
  intercept: Intercept | null;
  /** Payments forwarded to LNbits so far. */
  paysForwarded: number;
  close: () => Promise<void>;
}

/** POST /api/v1/payments: a payment (out:true) or an invoice (out:false); null for anything else. */
function paymentsPostOut(req: http.IncomingMessage, body: Buffer): boolean | null {
  if (req.method !== 'POST' || req.url !== '/api/v1/payments') return null;
  try {
    return (JSON.parse(body.toString()) as { out?: boolean }).out === true;
  } catch {
    return null; // not JSON: forwarded as is
  }
}

/** Asks LNbits for plain answers: a gzipped one (LNbits compresses large bodies) could not be read and rewritten. */
function withoutEncoding(headers: http.IncomingHttpHeaders): http.IncomingHttpHeaders {
  const { 'accept-encoding': _dropped, ...rest } = headers;
  return rest;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const proxy: FaultProxy = {
    url: '', down: false, fail5xx: null, delayMs: 0, holdPayMs: 0, paysHeld: 0, delayPayMs: 0, intercept: null, paysForwarded: 0,
    close: async () => {}, refuse: async () => {}, accept: async () => {},
  };
  const parse = (b: Buffer): unknown => {
    try {
      return b.length ? JSON.parse(b.toString()) : undefined;
    } catch {
      return undefined;
    }
  };
  const sendJson = (res: http.ServerResponse, a: Upstream) => void (!res.destroyed && res.writeHead(a.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(a.json)));
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (proxy.down) {
        res.writeHead(503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ detail: 'Service Unavailable' }));
        return;
      }
      if (proxy.fail5xx !== null) {
        res.writeHead(proxy.fail5xx, { 'Content-Type': 'application/json' }).end(JSON.stringify({ detail: 'Internal Server Error' }));
        return;
      }
      const body = Buffer.concat(chunks);
      const out = paymentsPostOut(req, body);
      const pay = out === true;
      const before = (pay ? proxy.holdPayMs : 0) + proxy.delayMs;
      if (before > 0) {
        const held = pay && proxy.holdPayMs > 0;
        if (held) proxy.paysHeld++;
        const timer = setTimeout(() => {
          timers.delete(timer);
          if (held) proxy.paysHeld--;
          forward(req, res, body, out);
        }, before);
        timers.add(timer);
        return;
      }
      forward(req, res, body, out);
    });
  });
  function forward(req: http.IncomingMessage, res: http.ServerResponse, body: Buffer, out: boolean | null): void {
    const pay = out === true;
    const decision = proxy.intercept?.({ method: req.method ?? 'GET', path: req.url ?? '/', isPayment: pay, isInvoice: out === false, json: parse(body) });
    if (decision && 'answer' in decision) {
      sendJson(res, decision.answer);
      return;
    }
    if (pay) proxy.paysForwarded++;
    const delay = pay ? proxy.delayPayMs : 0;
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...withoutEncoding(req.headers), host: target.host } },
      (up) => {
        const chunksOut: Buffer[] = [];
        up.on('data', (c: Buffer) => chunksOut.push(c));
        up.on('end', () => {
          const answer = async () => {
            if (res.destroyed) return;
            const replaced = await Promise.resolve(decision?.replace({ status: up.statusCode ?? 502, json: parse(Buffer.concat(chunksOut)) })).catch(
              (err: unknown): Upstream => ({ status: 599, json: { detail: `fault proxy: ${(err as Error).message}` } }),
            );
            if (res.destroyed) return;
            if (replaced) return sendJson(res, replaced);
            res.writeHead(up.statusCode ?? 502, up.headers);
            res.end(Buffer.concat(chunksOut));
          };
          const timer = setTimeout(() => {
            timers.delete(timer);
            void answer();
          }, delay);
          timers.add(timer);
        });
      },
    );
    upstream.on('error', () => {
      if (!res.headersSent && !res.destroyed) res.writeHead(502).end();
    });
    upstream.end(body);
  }
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  proxy.url = `http://127.0.0.1:${port}`;
  proxy.refuse = async () => {
    if (!server.listening) return;
    await new Promise<void>((r) => {
      server.close(() => r());
      sockets.forEach((s) => s.destroy());
    });
  };
  proxy.accept = async () => {
    if (server.listening) return;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  };
  proxy.close = () =>
    new Promise<void>((r) => {
      timers.forEach((x) => clearTimeout(x));
      sockets.forEach((s) => s.destroy());
      if (server.listening) server.close(() => r());
      else r();
    });
  return proxy;
}
