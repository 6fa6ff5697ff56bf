/**
 * Retries of provider calls, only when the caller asks (`x-sidecar-retry: N`): a retried call
 * that had already produced tokens would be paid twice, so the gateway never retries on its own.
 * Retried: connection failures before any response, 429 and 500/502/503/504. The wait honours
 * the provider's Retry-After (seconds or HTTP date), else exponential backoff with jitter.
 */
export const MAX_RETRIES = 5;
/** Longest wait before one retry; a provider asking for longer gets its answer passed back. */
export const MAX_RETRY_WAIT_MS = 30_000;
const BASE_BACKOFF_MS = 200;

export function retriesOf(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return 0;
  const v = (Array.isArray(header) ? header[0] : header).trim();
  if (!/^\d$/.test(v) || Number(v) > MAX_RETRIES) return undefined;
  return Number(v);
}

export function isRetryableStatus(status: number): boolean {
  return status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/** Milliseconds to wait before retry number `attempt` (1-based), or undefined to give up. */
export function retryDelayMs(attempt: number, retryAfter: string | string[] | undefined, nowMs = Date.now()): number | undefined {
  const raw = Array.isArray(retryAfter) ? retryAfter[0] : retryAfter;
  if (raw !== undefined && raw.trim() !== '') {
    let ms: number | undefined;
    if (/^\d+(\.\d+)?$/.test(raw.trim())) ms = Number(raw.trim()) * 1000;
    else {
      const at = Date.parse(raw);
      if (!Number.isNaN(at)) ms = Math.max(0, at - nowMs);
    }
    if (ms !== undefined) return ms > MAX_RETRY_WAIT_MS ? undefined : ms;
  }
  const base = BASE_BACKOFF_MS * 2 ** (attempt - 1);
  return Math.min(MAX_RETRY_WAIT_MS, base / 2 + Math.random() * base);
}
