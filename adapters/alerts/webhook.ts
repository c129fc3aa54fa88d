/**
 * Webhook channel: one JSON POST that Slack (`text`) and Discord (`content`) both accept, plus the alert's
 * fields for other receivers. Timeout per attempt, retries with doubling back-off on network errors, 429
 * and 5xx; another 4xx is final. Errors never contain the URL (Slack/Discord URLs are secrets).
 */
export interface WebhookPayload {
  text: string;
  content: string;
  severity: string;
  kind: string;
  dedupKey: string;
  message: string;
  alertId: string;
  at: string;
  details: Record<string, unknown>;
}

export interface WebhookOptions {
  timeoutMs: number;
  attempts: number;
  backoffMs: number;
}

export class WebhookDeliveryError extends Error {
  override name = 'WebhookDeliveryError';
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Discord refuses `content` over 2000 characters. */
const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function webhookPayload(a: { id: string; severity: string; kind: string; dedupKey: string; message: string; details: Record<string, unknown>; at: string }): WebhookPayload {
  const text = clip(`[${a.severity.toUpperCase()}] ${a.kind}: ${a.message}`, 1900);
  return { text, content: text, severity: a.severity, kind: a.kind, dedupKey: a.dedupKey, message: a.message, alertId: a.id, at: a.at, details: a.details };
}

/** Resolves after a 2xx; throws WebhookDeliveryError (with every attempt's reason) otherwise. */
export async function sendWebhook(url: string, payload: WebhookPayload, opts: WebhookOptions): Promise<{ attempts: number }> {
  const reasons: string[] = [];
  for (let attempt = 1; attempt <= opts.attempts; attempt++) {
    let retryable = true;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(payload),
        redirect: 'manual',
        signal: AbortSignal.timeout(opts.timeoutMs),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { attempts: attempt };
      retryable = res.status === 429 || res.status >= 500;
      reasons.push(`HTTP ${res.status}`);
    } catch (err) {
      const e = err as { name?: string; cause?: { code?: string } };
      reasons.push(e.name === 'TimeoutError' ? `timeout after ${opts.timeoutMs} ms` : (e.cause?.code ?? e.name ?? 'network error'));
    }
    if (!retryable) break;
    if (attempt < opts.attempts) await sleep(opts.backoffMs * 2 ** (attempt - 1));
  }
  throw new WebhookDeliveryError(`webhook: ${reasons.join(', ')}`);
}
