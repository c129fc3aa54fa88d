/**
 * The one way every process (worker, CLI, activities that talk to Temporal) connects to Temporal: address,
 * API key (Temporal Cloud) and TLS — server-only or mutual (client certificate and key, CA, server name).
 * Works for both @temporalio/client's Connection and @temporalio/worker's NativeConnection.
 */
import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { ConfigError } from './load';
import type { Config } from './schema';

type TemporalConfig = Config['temporal'];

function pem(t: TemporalConfig, inline: 'tlsCert' | 'tlsKey' | 'tlsCa', file: 'tlsCertFile' | 'tlsKeyFile' | 'tlsCaFile'): Buffer | undefined {
  if (t[inline]) return Buffer.from(t[inline]!);
  const f = t[file];
  if (!f) return undefined;
  try {
    return readFileSync(f);
  } catch (err) {
    throw new ConfigError(`temporal.${file}: cannot read ${f} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

/** TLS settings for the connection: undefined (plain), true (system CAs), or the mTLS configuration. */
export function temporalTls(t: TemporalConfig): TLSConfig | true | undefined {
  const crt = pem(t, 'tlsCert', 'tlsCertFile');
  const key = pem(t, 'tlsKey', 'tlsKeyFile');
  const ca = pem(t, 'tlsCa', 'tlsCaFile');
  if (!!crt !== !!key) throw new ConfigError(`temporal: a client certificate needs its key and the reverse (${crt ? 'tlsKey' : 'tlsCert'} missing)`);
  if (!crt && !ca && !t.tlsServerName) return t.tls || undefined;
  return {
    ...(t.tlsServerName ? { serverNameOverride: t.tlsServerName } : {}),
    ...(ca ? { serverRootCACertificate: ca } : {}),
    ...(crt && key ? { clientCertPair: { crt, key } } : {}),
  };
}

export function temporalConnectOptions(t: TemporalConfig): { address: string; tls: TLSConfig | true | undefined; apiKey: string | undefined } {
  return { address: t.address, tls: temporalTls(t), apiKey: t.apiKey };
}

/**
 * Why a TLS connection to Temporal fails, in words (gRPC only says "Failed to connect before the deadline"):
 * one TLS handshake with the same settings, and the server's or our own verdict on it. Undefined when the
 * handshake succeeds, TLS is off, or the server cannot be reached at all.
 */
export async function diagnoseTemporalTls(t: TemporalConfig, timeoutMs = 5_000): Promise<string | undefined> {
  const settings = temporalTls(t);
  if (!settings) return undefined;
  const tls = await import('node:tls');
  const i = t.address.lastIndexOf(':');
  const host = t.address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const opts = settings === true ? {} : settings;
  return new Promise((resolve) => {
    const socket = tls.connect({
      host, port: Number(t.address.slice(i + 1)), ALPNProtocols: ['h2'],
      servername: opts.serverNameOverride ?? (/^[\d.:]+$/.test(host) ? undefined : host),
      ...(opts.serverRootCACertificate ? { ca: Buffer.from(opts.serverRootCACertificate) } : {}),
      ...(opts.clientCertPair ? { cert: Buffer.from(opts.clientCertPair.crt), key: Buffer.from(opts.clientCertPair.key) } : {}),
    });
    const done = (why: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    // TLS 1.3: the server judges the client certificate after our side of the handshake; its alert arrives as
    // an error once we read.
    socket.once('secureConnect', () => {
      socket.resume();
      // A server that drops the connection right after the handshake without an alert refused the certificate too.
      socket.once('end', () =>
        done(`the server refused our TLS client certificate (it closed the connection after the handshake${opts.clientCertPair ? '; is the certificate issued by the CA the server trusts?' : '; none configured'})`),
      );
      setTimeout(() => done(undefined), 2_000);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED' || err.code === 'ENOTFOUND' || err.code === 'EHOSTUNREACH') return done(undefined);
      const alert = /alert ([a-z ]+)/i.exec(err.message)?.[1]?.trim();
      done(
        alert
          ? `the server refused our TLS client certificate (${alert.toLowerCase()}${opts.clientCertPair ? '' : ': none configured, set temporal.tlsCert/tlsKey or TEMPORAL_TLS_CERT(_FILE)/TEMPORAL_TLS_KEY(_FILE)'})`
          : `TLS handshake failed: ${err.code ?? ''} ${err.message}`.replace(/\s+/g, ' ').trim(),
      );
    });
  });
}
