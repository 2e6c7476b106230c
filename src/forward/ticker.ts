import { Client, Pool } from 'pg';
import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import { sleep } from '../common/sleep';
import { IDLE_TICKER_KEY, LOCK_CLASS } from '../common/locks';
import { cutTick } from '../tables/ticks';

type ForwardConfig = FerryConfig['forward'];

/**
 * Cuts ticks (§3.1): at most every tickIntervalMs while changes arrive, at once when
 * tickMaxChanges wait. With nothing to do for idleAfterMs it stops polling: it takes the idle
 * advisory lock, LISTENs, and sleeps until a writer's NOTIFY (or idleCheckMs) wakes it.
 */
export class Ticker {
  private stopped = false;
  private wake?: () => void;
  private notified = false;

  constructor(
    private readonly pool: Pool,
    private readonly control: Client,
    private readonly cfg: ForwardConfig,
    private readonly log: Logger,
    private readonly onTick: (tick: number) => void,
  ) {}

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  async run(abort: AbortSignal): Promise<void> {
    const onNotify = () => {
      this.notified = true;
      this.wake?.();
    };
    this.control.on('notification', onNotify);
    await this.control.query('listen ferry_wake');
    let lastTick = Date.now();
    let lastActivity = Date.now();
    const poll = Math.max(5, Math.floor(this.cfg.tickIntervalMs / 2));
    try {
      while (!this.stopped && !abort.aborted) {
        const due = Date.now() - lastTick >= this.cfg.tickIntervalMs;
        const r = await this.tick(due ? 1 : this.cfg.tickMaxChanges);
        if (r.tick !== null) {
          lastTick = lastActivity = Date.now();
          this.onTick(r.tick);
          continue;
        }
        // changes wait for the interval. (A writer still open cannot be slept past: its trigger
        // holds the idle lock shared until it ends, so sleepIdle keeps polling instead.)
        if (r.pending > 0) lastActivity = Date.now();
        if (Date.now() - lastActivity >= this.cfg.idleAfterMs) {
          if (await this.sleepIdle(abort)) lastActivity = Date.now();
          continue;
        }
        await sleep(poll, abort);
      }
    } catch (e) {
      if (!this.stopped && !abort.aborted) throw e;
    } finally {
      this.control.off('notification', onNotify);
      await this.control.query('unlisten ferry_wake').catch(() => undefined);
    }
  }

  private tick(min: number): Promise<{ tick: number | null; pending: number }> {
    return cutTick(this.pool, min);
  }

  /** Returns true when woken by a writer (or found work), false on the periodic check. */
  private async sleepIdle(abort: AbortSignal): Promise<boolean> {
    const got = await this.control.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [LOCK_CLASS, IDLE_TICKER_KEY]);
    if (!got.rows[0].ok) {
      await sleep(this.cfg.tickIntervalMs, abort);
      return false;
    }
    try {
      this.notified = false;
      // a write that committed before the lock was taken did not notify: look once more
      const r = await this.tick(1);
      if (r.tick !== null) {
        this.onTick(r.tick);
        return true;
      }
      if (this.notified) return true; // a writer notified during the look: no sleep
      this.log.debug('idle: waiting for a write');
      let woken = false;
      await new Promise<void>((resolve) => {
        const t = setTimeout(finish, this.cfg.idleCheckMs);
        const onAbort = () => finish();
        abort.addEventListener('abort', onAbort, { once: true });
        this.wake = () => {
          woken = true;
          finish();
        };
        function finish() {
          clearTimeout(t);
          abort.removeEventListener('abort', onAbort);
          resolve();
        }
      });
      this.wake = undefined;
      return woken;
    } finally {
      await this.control.query('select pg_advisory_unlock($1, $2)', [LOCK_CLASS, IDLE_TICKER_KEY]).catch(() => undefined);
    }
  }
}
