/**
 * A TCP proxy in front of a real server (here: the ledger's PostgreSQL), for a fault the real thing cannot
 * show on demand without stopping it for every other test: `cut()` drops every open connection and refuses
 * new ones (the database "down" for whoever talks through the proxy), `restore()` accepts them again on the
 * same port. Bytes are forwarded unchanged.
 */
import net from 'node:net';

export interface TcpFaultProxy {
  port: number;
  /** Drop every connection and refuse new ones. */
  cut: () => Promise<void>;
  restore: () => Promise<void>;
  close: () => Promise<void>;
}

export async function startTcpFaultProxy(targetHost: string, targetPort: number): Promise<TcpFaultProxy> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const cut = async () => {
    sockets.forEach((s) => s.destroy());
    if (server.listening) await new Promise<void>((r) => server.close(() => r()));
  };
  return {
    port,
    cut,
    restore: async () => {
      if (!server.listening) await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    },
    close: cut,
  };
}
