/**
 * The worker's operations endpoint (config httpAddress): /healthz (the process is up and connected to
 * Temporal), /readyz (it can do its job: ledger, poller), /metrics (Prometheus text). Each probe answers JSON
 * `{ status, checks: [{ name, ok, detail }] }`, 200 when every check is ok, else 503. Never a secret in it.
 */
import http from 'node:http';
import type net from 'node:net';

export interface ProbeCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface OpsHandlers {
  health: () => Promise<ProbeCheck[]>;
  ready: () => Promise<ProbeCheck[]>;
  metrics: () => Promise<{ contentType: string; body: string }>;
}

export interface OpsServer {
  /** `http://host:port` it listens on (the real port when the address asked for port 0). */
  url: string;
  close: () => Promise<void>;
}

export function parseHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(address.slice(i + 1)) };
}

export async function startOpsServer(address: string, handlers: OpsHandlers, onError: (err: Error) => void): Promise<OpsServer> {
  const probe = async (res: http.ServerResponse, run: () => Promise<ProbeCheck[]>, okStatus: string) => {
    const checks = await run().catch((err: unknown) => [{ name: 'probe', ok: false, detail: (err as Error).message }]);
    const ok = checks.every((c) => c.ok);
    res.writeHead(ok ? 200 : 503, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' }).end(JSON.stringify({ status: ok ? okStatus : `not-${okStatus}`, checks }));
  };
  const server = http.createServer((req, res) => {
    const route = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return void res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    const done = (p: Promise<void>) => p.catch((err: unknown) => {
      onError(err as Error);
      if (!res.headersSent) res.writeHead(500).end();
    });
    if (route === '/healthz') return void done(probe(res, handlers.health, 'healthy'));
    if (route === '/readyz') return void done(probe(res, handlers.ready, 'ready'));
    if (route === '/metrics') {
      return void done(handlers.metrics().then((m) => void res.writeHead(200, { 'Content-Type': m.contentType }).end(m.body)));
    }
    res.writeHead(404, { 'Content-Type': 'text/plain' }).end('not found: /healthz, /readyz, /metrics\n');
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const { host, port } = parseHostPort(address);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  server.on('error', onError);
  const bound = server.address() as net.AddressInfo;
  return {
    url: `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}
