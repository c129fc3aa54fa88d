/**
 * A fault proxy in front of the real LNbits, for faults the real server cannot be made to show on
 * demand: while `down` is set it answers 503 to everything (LNbits unavailable behind a reverse proxy);
 * otherwise every request is forwarded unchanged and answered with LNbits' own answer.
 */
import http from 'node:http';
import type net from 'node:net';

export interface FaultProxy {
  url: string;
  down: boolean;
  close: () => Promise<void>;
}

export async function startFaultProxy(targetUrl: string): Promise<FaultProxy> {
  const target = new URL(targetUrl);
  const sockets = new Set<net.Socket>();
  const proxy: FaultProxy = { url: '', down: false, close: async () => {} };
  const server = http.createServer((req, res) => {
    if (proxy.down) {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'application/json' }).end(JSON.stringify({ detail: 'Service Unavailable' }));
      return;
    }
    const upstream = http.request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((r) => {
      sockets.forEach((s) => s.destroy());
      server.close(() => r());
    });
  return proxy;
}
