/**
 * A TLS-terminating proxy in front of the real Temporal dev server, as a self-hosted cluster's mTLS front end:
 * TLS with ALPN h2, a client certificate signed by the test CA required (requestCert + rejectUnauthorized), the
 * decrypted gRPC bytes piped to the dev server. Certificates are made with openssl in a private folder.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import tls from 'node:tls';

export interface TestPki {
  dir: string;
  caFile: string;
  /** Client certificate and key signed by the CA. */
  clientCertFile: string;
  clientKeyFile: string;
  /** A client certificate from another CA (the server must refuse it). */
  strangerCertFile: string;
  strangerKeyFile: string;
  serverName: string;
  remove: () => void;
}

const openssl = (dir: string, args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });

function signed(dir: string, name: string, ca: string, subject: string, ext?: string): void {
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  const extArgs = ext ? (writeFileSync(path.join(dir, `${name}.ext`), ext), ['-extfile', `${name}.ext`]) : [];
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', ...extArgs]);
}

export function createTestPki(serverName = 'temporal.satmachine.test'): TestPki {
  const dir = mkdtempSync(path.join(tmpdir(), 'satm-pki-'));
  for (const ca of ['ca', 'stranger-ca']) {
    openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-out', `${ca}.crt`, '-days', '2', '-subj', `/CN=${ca}`]);
  }
  signed(dir, 'server', 'ca', `/CN=${serverName}`, `subjectAltName=DNS:${serverName}\nextendedKeyUsage=serverAuth\n`);
  signed(dir, 'client', 'ca', '/CN=satmachine-worker', 'extendedKeyUsage=clientAuth\n');
  signed(dir, 'stranger', 'stranger-ca', '/CN=stranger', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string) => path.join(dir, n);
  return {
    dir, caFile: f('ca.crt'), clientCertFile: f('client.crt'), clientKeyFile: f('client.key'),
    strangerCertFile: f('stranger.crt'), strangerKeyFile: f('stranger.key'), serverName,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

export interface TlsProxy {
  address: string;
  /** Handshakes refused (no or a wrong client certificate). */
  refused: number;
  close: () => Promise<void>;
}

export async function startTlsProxy(pki: TestPki, upstream: string): Promise<TlsProxy> {
  const [host, port] = [upstream.slice(0, upstream.lastIndexOf(':')), Number(upstream.slice(upstream.lastIndexOf(':') + 1))];
  const sockets = new Set<net.Socket>();
  const proxy: TlsProxy = { address: '', refused: 0, close: async () => {} };
  const server = tls.createServer(
    {
      key: readFileSync(path.join(pki.dir, 'server.key')),
      cert: readFileSync(path.join(pki.dir, 'server.crt')),
      ca: readFileSync(pki.caFile),
      requestCert: true,
      rejectUnauthorized: true,
      ALPNProtocols: ['h2'],
    },
    (client) => {
      const up = net.connect(port, host);
      sockets.add(up);
      up.on('close', () => sockets.delete(up));
      client.pipe(up).pipe(client);
      const end = () => {
        client.destroy();
        up.destroy();
      };
      client.on('error', end);
      up.on('error', end);
    },
  );
  server.on('tlsClientError', () => proxy.refused++);
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  proxy.address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((r) => {
      sockets.forEach((s) => s.destroy());
      server.close(() => r());
    });
  return proxy;
}
