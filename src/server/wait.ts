import type { Queryable } from '../common/db';
import { FerryError } from '../common/errors';
import { sleep } from '../common/sleep';
import { transactionApplied } from '../tables/applied';

/**
 * Read-your-writes (DESIGN.md §7): a token is `origin:xid`, taken with `select ferry.token()` inside
 * the write transaction at the origin. This DC has applied that transaction once it is visible in
 * the origin's newest tick snapshot whose whole batch is applied here (ferry.applied.snap).
 */
export interface Token {
  origin: string;
  xid: string;
}

export class TokenError extends FerryError {}

export function parseToken(text: string | undefined | null): Token {
  const m = /^([a-z0-9][a-z0-9_-]*):([0-9]+)$/.exec(text ?? '');
  if (!m) throw new TokenError(`${JSON.stringify(text ?? '')} is not a read-your-writes token: take one with \`select ferry.token()\` inside the write transaction at the origin (it reads dc:xid)`);
  return { origin: m[1], xid: m[2] };
}

export interface WaitResult {
  applied: boolean;
  token: string;
  origin: string;
  waitedMs: number;
  /** On a timeout: why, in words an operator can act on. */
  reason?: string;
}

/** Polls until the token's transaction is applied here or timeoutMs passes. */
export async function waitForToken(db: Queryable, self: string, text: string, timeoutMs: number, stop?: AbortSignal): Promise<WaitResult> {
  const t = parseToken(text);
  const started = Date.now();
  const done = (applied: boolean, reason?: string): WaitResult => ({ applied, token: text, origin: t.origin, waitedMs: Date.now() - started, ...(reason ? { reason } : {}) });
  // this DC's own write is visible here as soon as it is committed
  if (t.origin === self) return done(true);
  let nap = 1;
  for (;;) {
    const s = await transactionApplied(db, t.origin, t.xid);
    if (s.applied) return done(true);
    if (Date.now() - started >= timeoutMs || stop?.aborted) {
      const reason = !s.known
        ? `this DC (${self}) has applied nothing from ${t.origin}: is ${t.origin} among its peers, and does \`ferry run\` run here?`
        : s.status !== 'running'
          ? `the stream from ${t.origin} is stopped at position ${s.pos}: ${s.error ?? 'see ferry status'} (fix it, then \`ferry resume --origin ${t.origin}\`)`
          : `not applied within ${timeoutMs} ms; this DC has applied ${t.origin} up to position ${s.pos} (\`ferry status\` shows the lag)`;
      return done(false, reason);
    }
    await sleep(Math.min(nap, Math.max(1, timeoutMs - (Date.now() - started))), stop);
    nap = Math.min(nap * 2, 10);
  }
}
