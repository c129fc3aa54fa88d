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
