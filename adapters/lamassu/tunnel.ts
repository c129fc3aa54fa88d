import net from 'node:net';
import { Client, type ClientChannel } from 'ssh2';
import type { z } from 'zod';
import type { sshSchema } from '../../config/schema';
import type { Logger } from '../../log/logger';
import { HostKeyMismatchError, fingerprintsEqual, sha256Fingerprint } from './host-key';

export type SshConfig = z.infer<typeof sshSchema>;

/** Which phase of bringing the tunnel up failed; the connection test reports it as a step. */
export type TunnelStage = 'connect' | 'authenticate' | 'listen';

export class TunnelError extends Error {
  override name = 'TunnelError';
  constructor(
    readonly stage: TunnelStage,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface Tunnel {
  /** 127.0.0.1:<localPort> forwards to targetHost:targetPort as seen from the SSH server. */
  readonly localPort: number;
  /** Fingerprint the server presented (equal to the pinned one). */
  readonly hostKeySha256: string;
  /** Resolves (never rejects) once the SSH connection is gone: with its error, or undefined after close(). */
  readonly closed: Promise<Error | undefined>;
  isOpen(): boolean;
  /** Last forwardOut refusal (e.g. target port closed, forwarding prohibited) — pg only sees a dropped socket. */
  lastForwardError(): Error | undefined;
  close(): Promise<void>;
}

/**
 * SSH to `ssh.host` with key auth and a pinned host key, then listen on 127.0.0.1:0 and pipe each accepted
 * socket into its own `forwardOut` channel (an ssh2 channel is not a socket, so pg cannot use it directly).
 */
export interface OpenTunnelOptions {
  log?: Logger;
  /** Called once the server presented its host key (the connection test times this step). */
  onHostKey?: (presented: string, matches: boolean) => void;
}

export function openTunnel(ssh: SshConfig, targetHost: string, targetPort: number, opts: OpenTunnelOptions = {}): Promise<Tunnel> {
  const { log } = opts;
  const where = `${ssh.host}:${ssh.port}`;
  return new Promise<Tunnel>((resolve, reject) => {
    const client = new Client();
    const sockets = new Set<net.Socket>();
    let presented: string | undefined;
    let hostKeyOk = false;
    let ready = false;
    let open = false;
    let deliberate = false;
    let lastError: Error | undefined;
    let forwardError: Error | undefined;
    let server: net.Server | undefined;
    let resolveClosed!: (e: Error | undefined) => void;
    const closed = new Promise<Error | undefined>((r) => (resolveClosed = r));

    const fail = (err: Error) => {
      client.end();
      reject(err);
    };

    const classify = (err: Error & { level?: string }): Error => {
      if (presented !== undefined && !hostKeyOk) return new HostKeyMismatchError(where, ssh.hostKeySha256, presented);
      if (err.level === 'client-authentication' || (hostKeyOk && err.level !== 'client-socket')) {
        return new TunnelError('authenticate', `SSH authentication as ${ssh.username}@${where} failed: ${err.message}`, { cause: err });
      }
      return new TunnelError('connect', `SSH connection to ${where} failed: ${err.message}`, { cause: err });
    };

    client.on('error', (err) => {
      lastError = err;
      if (!ready) fail(classify(err));
      else log?.warn({ ssh: where, err: err.message }, 'lamassu ssh tunnel error');
    });

    client.on('close', () => {
      open = false;
      server?.close();
      // Destroy, not end: an in-flight pg query must see a broken connection, never a clean EOF.
      for (const s of sockets) s.destroy();
      if (!ready) reject(lastError ? classify(lastError) : new TunnelError('connect', `SSH connection to ${where} closed during handshake`));
      const reason = deliberate ? undefined : (lastError ?? new Error(`SSH connection to ${where} closed`));
      if (ready) log?.info({ ssh: where, reason: reason?.message }, 'lamassu ssh tunnel closed');
      resolveClosed(reason);
    });

    client.on('ready', () => {
      ready = true;
      open = true;
      // pg sends small request/response messages: Nagle + delayed ACK would add ~40 ms per round trip.
      client.setNoDelay(true);
      server = net.createServer((socket) => forward(socket));
      server.on('error', (err) => {
        if (open) fail(new TunnelError('listen', `local tunnel listener failed: ${err.message}`, { cause: err }));
      });
      server.listen(0, '127.0.0.1', () => {
        const localPort = (server!.address() as net.AddressInfo).port;
        log?.debug({ ssh: where, localPort, target: `${targetHost}:${targetPort}` }, 'lamassu ssh tunnel open');
        resolve({
          localPort,
          hostKeySha256: presented!,
          closed,
          isOpen: () => open,
          lastForwardError: () => forwardError,
          close: async () => {
            deliberate = true;
            if (open) client.end();
            await closed;
          },
        });
      });
    });

    function forward(socket: net.Socket): void {
      if (!open) return void socket.destroy();
      sockets.add(socket);
      socket.setNoDelay(true);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      client.forwardOut('127.0.0.1', socket.remotePort ?? 0, targetHost, targetPort, (err: Error | undefined, ch: ClientChannel) => {
        if (err) {
          forwardError = new Error(`SSH server ${where} could not open ${targetHost}:${targetPort}: ${err.message}`);
          log?.warn({ ssh: where, err: err.message }, 'lamassu ssh forwardOut refused');
          return void socket.destroy();
        }
        forwardError = undefined;
        if (socket.destroyed) return void ch.close();
        ch.on('error', () => socket.destroy());
        ch.on('close', () => socket.destroy());
        socket.on('close', () => ch.close());
        socket.pipe(ch).pipe(socket);
      });
    }

    try {
      client.connect({
        host: ssh.host,
        port: ssh.port,
        username: ssh.username,
        privateKey: ssh.privateKey,
        readyTimeout: ssh.readyTimeoutMs,
        keepaliveInterval: ssh.keepaliveIntervalMs,
        keepaliveCountMax: 3,
        // Pinned key only: there is deliberately no accept-any mode.
        hostVerifier: (key: Buffer) => {
          presented = sha256Fingerprint(key);
          hostKeyOk = fingerprintsEqual(presented, ssh.hostKeySha256);
          opts.onHostKey?.(presented, hostKeyOk);
          return hostKeyOk;
        },
      });
    } catch (err) {
      // ssh2 throws synchronously for an unparsable private key; its message never contains the key.
      reject(new TunnelError('authenticate', `SSH private key unusable: ${(err as Error).message}`));
    }
  });
}
