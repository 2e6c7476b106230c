import type { Change } from '../protocol/envelope';

/**
 * Watches for a stream that waits on the transport: a missing position, the rest of a source
 * transaction, or the rest of a chunked change (DESIGN.md §3.7). A wait shorter than the timeout is
 * normal (frames reorder, a transaction spans messages); one that lasts past it is reported once
 * and the caller re-reads from the applied position.
 */
export class GapWatch {
  private since = 0;
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly timeoutMs: number,
    private readonly everyMs = 250,
  ) {}

  /** Calls check every everyMs until stop(). */
  start(check: () => void): void {
    this.timer = setInterval(check, this.everyMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Tells the watch whether the stream waits now; 'timeout' once it has waited past the timeout. */
  observe(waiting: boolean, now = Date.now()): { state: 'flowing' | 'waiting' | 'timeout'; waitedMs: number } {
    if (!waiting) {
      this.since = 0;
      return { state: 'flowing', waitedMs: 0 };
    }
    if (!this.since) this.since = now;
    const waitedMs = now - this.since;
    return { state: waitedMs >= this.timeoutMs ? 'timeout' : 'waiting', waitedMs };
  }

  /** Progress was made, or everything is read again: the wait starts over. */
  reset(): void {
    this.since = 0;
  }
}

/**
 * The message for a gap that did not fill: which position, in which of the origin's ticks it lies
 * (after the last applied change's tick, no later than the tick of the first change held after it),
 * and how long it was waited for.
 */
export function gapMessage(g: {
  kind: 'gap' | 'rest-of-transaction' | 'chunks';
  nextPos: number;
  firstHeld?: Change;
  tickOfFirstHeld?: number;
  appliedTick: number | null;
  waitedMs: number;
}): string {
  const secs = Math.round(g.waitedMs / 1000);
  const tail = '; nothing past it is applied. Re-reading from the last applied position';
  if (g.kind === 'rest-of-transaction') return `gap: the rest of the source transaction that continues at position ${g.nextPos} has not arrived after ${secs} s${tail}`;
  if (g.kind === 'chunks') return `gap: the pieces of the chunked change at position ${g.nextPos} have not all arrived after ${secs} s${tail}`;
  const upper = g.tickOfFirstHeld;
  const lower = g.appliedTick ?? undefined;
  const ticks = upper === undefined ? '' : lower === undefined || lower >= upper ? ` of tick ${upper}` : ` of tick ${lower}..${upper}`;
  return `gap: position ${g.nextPos}${ticks} has not arrived after ${secs} s while later ones did${g.firstHeld ? ` (holding from ${g.firstHeld.pos})` : ''}${tail}`;
}
