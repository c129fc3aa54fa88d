/**
 * A fault proxy in front of the real LNbits: forwards every request unchanged, and while `delayPayMs` > 0
 * holds back the ANSWER of each payment (POST /api/v1/payments with out:true) after LNbits has made it —
 * the window in which a crash leaves a payout's outcome unknown to its worker.
 */
import http from 'node:http';
import type net from 'node:net';

export interface DelayProxy {
  url: string;
  /** Payments forwarded to LNbits so far. */
  paysForwarded: number;
  delayPayMs: number;
  close: () => Promise<void>;
}

export async function startDelayProxy(targetUrl: string): Promise<DelayProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const proxy: DelayProxy = { url: '', paysForwarded: 0, delayPayMs: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      let isPay = false;
      if (req.method === 'POST' && req.url === '/api/v1/payments') {
        try {
          isPay = (JSON.parse(body.toString()) as { out?: boolean }).out === true;
        } catch {
          /* not JSON: forwarded as is */
        }
      }
      if (isPay) proxy.paysForwarded++;
      const delay = isPay ? proxy.delayPayMs : 0;
      const upstream = http.request(
        { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
        (up) => {
          const out: Buffer[] = [];
          up.on('data', (c: Buffer) => out.push(c));
          up.on('end', () => {
            const timer = setTimeout(() => {
              timers.delete(timer);
              if (res.destroyed) return;
              res.writeHead(up.statusCode ?? 502, up.headers);
              res.end(Buffer.concat(out));
            }, delay);
            timers.add(timer);
          });
        },
      );
      upstream.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      upstream.end(body);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  proxy.url = `http://127.0.0.1:${port}`;
  proxy.close = () =>
    new Promise<void>((r) => {
      timers.forEach((x) => clearTimeout(x));
      sockets.forEach((s) => s.destroy());
      server.close(() => r());
    });
  return proxy;
}
