/**
 * An LNbits URL may carry credentials (`https://user:pass@host`, e.g. a reverse proxy's basic auth). They are
 * taken out of the URL once, sent as an Authorization header, and scrubbed from every text we build: fetch
 * and network errors would otherwise echo the URL into errors, payments.last_error and alerts.
 */
export interface LnbitsEndpoint {
  /** The URL without credentials and trailing slash. */
  base: string;
  /** `Basic …` when the URL carried credentials. */
  basicAuth: string | null;
  /** Every form of the credentials that could appear in a text (raw and percent-decoded). */
  secrets: string[];
}

export function lnbitsEndpoint(url: string): LnbitsEndpoint {
  const u = new URL(url);
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  const secrets = [...new Set([u.username, u.password, user, pass].filter((s) => s.length >= 3))];
  const basicAuth = u.username || u.password ? `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` : null;
  if (basicAuth) secrets.push(basicAuth.slice('Basic '.length));
  u.username = '';
  u.password = '';
  return { base: u.toString().replace(/\/+$/, ''), basicAuth, secrets };
}

/** The URL as it may be shown (logs, `config check`, alerts): origin and path, never credentials. */
export function publicLnbitsUrl(url: string): string {
  try {
    return lnbitsEndpoint(url).base;
  } catch {
    return '(invalid URL)';
  }
}

/** `text` with any URL userinfo (`scheme://user:pass@`) and every listed secret removed. */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]*@/gi, '$1[redacted]@');
  for (const s of secrets) if (s) out = out.split(s).join('[redacted]');
  return out;
}
