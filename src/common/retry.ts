import { isRetriable } from './errors';
import type { Logger } from './logger';
import { sleep } from './sleep';

/**
 * The one retry policy (graphile-worker's habit): every wait after a failure comes from backoff(),
 * and whether to wait at all from the error's `retriable` flag (see errors.ts), never from an
 * ad-hoc try/catch at the call site.
 */
export interface RetryPolicy {
  minDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
}

export const RETRY: RetryPolicy = { minDelayMs: 250, maxDelayMs: 30_000, multiplier: 2 };

/** The wait before attempt `attempt + 1`, after `attempt` (≥ 1) failures in a row. */
export function backoff(attempt: number, policy: RetryPolicy = RETRY): number {
  const n = Math.max(1, attempt);
  return Math.min(policy.maxDelayMs, Math.round(policy.minDelayMs * policy.multiplier ** Math.min(n - 1, 30)));
}

export interface RetryOptions {
  /** What is being tried, for the log line ("connecting to Kafka"). */
  what: string;
  log: Logger;
  signal?: AbortSignal;
  policy?: RetryPolicy;
  /** Give up (rethrow) after this many failures; retries for as long as it is retriable otherwise. */
  maxAttempts?: number;
}

/**
 * Runs fn until it succeeds, waiting backoff(attempt) after each retriable failure. A failure that
 * is not retriable, or one after the signal aborted, is rethrown at once.
 */
export async function retrying<T>(fn: (attempt: number) => Promise<T>, o: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (e) {
      if (!isRetriable(e) || o.signal?.aborted || (o.maxAttempts !== undefined && attempt >= o.maxAttempts)) throw e;
      const wait = backoff(attempt, o.policy);
      o.log.warn({ err: e, attempt }, `${o.what} failed; trying again in ${wait} ms`);
      await sleep(wait, o.signal);
    }
  }
}
