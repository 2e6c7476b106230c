import { Pool } from 'pg';
import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import { Signal, sleep } from '../common/sleep';
import { cutTick, pendingSinceLastTick } from '../tables/ticks';
import { refreshTracked } from '../tables/tracked';

/** How often the ticker looks for application DDL on tracked tables. */
const REFRESH_EVERY_MS = 1000;

type ForwardConfig = FerryConfig['forward'];

/**
 * Cuts ticks (§3.1): at most every tickIntervalMs while changes arrive and the forwarder is not
 * publishing, at once when tickMaxChanges wait. With nothing to do for idleAfterMs it looks less often, every idleCheckMs.
 * (Writers do not wake it: a NOTIFY from the capture trigger cost every write transaction a lock,
 * and a transaction that ran NOTIFY cannot be PREPAREd for two-phase commit.) Every second it also
 * makes anew the capture functions of tables whose columns changed (docs/operations.md).
 */
export class Ticker {
  private stopped = false;
  private readonly wake = new AbortController();
  private readonly freed = new Signal();

  constructor(
    private readonly pool: Pool,
    private readonly cfg: ForwardConfig,
    private readonly log: Logger,
    private readonly onTick: (tick: number) => void,
    /** The forwarder is publishing a batch, or has a cut one to publish: a tick now would only queue behind it. */
    private readonly busy: () => boolean = () => false,
  ) {}

  /**
   * The forwarder finished publishing: a tick that is due is cut now, not at the ticker's next look
   * (which was up to half an interval later, in the latency of every change that waited).
   */
  publishingDone(): void {
    this.freed.notify();
  }

  stop(): void {
    this.stopped = true;
    this.wake.abort();
  }

  async run(abort: AbortSignal): Promise<void> {
    let lastTick = Date.now();
    let lastActivity = Date.now();
    const poll = Math.max(5, Math.floor(this.cfg.tickIntervalMs / 2));
    const signal = AbortSignal.any([abort, this.wake.signal]);
    let lastRefresh = 0;
    try {
      while (!this.stopped && !abort.aborted) {
        if (Date.now() - lastRefresh >= REFRESH_EVERY_MS) {
          lastRefresh = Date.now();
          for (const t of await refreshTracked(this.pool)) this.log.info({ table: t }, 'the columns of a tracked table changed: its capture function is made anew');
        }
        // while a batch is being published the changes wait for it and go out as one batch after it
        // (unless tickMaxChanges wait): batches grow when publishing is slow, instead of ticks
        // queueing up each with its own publish and the lag growing for as long as the load lasts
        if (this.busy() && (await pendingSinceLastTick(this.pool)) < this.cfg.tickMaxChanges) {
          await this.freed.wait(poll, signal);
          continue;
        }
        const due = Date.now() - lastTick >= this.cfg.tickIntervalMs;
        const r = await cutTick(this.pool, due ? 1 : this.cfg.tickMaxChanges);
        if (r.tick !== null) {
          lastTick = lastActivity = Date.now();
          this.onTick(r.tick);
          continue;
        }
        // changes wait for the interval
        if (r.pending > 0) lastActivity = Date.now();
        const idle = Date.now() - lastActivity >= this.cfg.idleAfterMs;
        if (idle && Date.now() - lastActivity < this.cfg.idleAfterMs + poll) this.log.debug('idle: looking for writes every idleCheckMs');
        // while changes wait, the next look is when the tick is due (not up to a poll after it)
        const untilDue = this.cfg.tickIntervalMs - (Date.now() - lastTick);
        await sleep(idle ? this.cfg.idleCheckMs : r.pending > 0 ? Math.max(1, Math.min(poll, untilDue)) : poll, signal);
      }
    } catch (e) {
      if (!this.stopped && !abort.aborted) throw e;
    }
  }
}
