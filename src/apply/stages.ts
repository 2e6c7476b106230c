import { applyStageSeconds } from '../common/metrics';

/**
 * The destination's part of a change's way, in ferry_apply_stage_seconds (README, "Latency: where
 * the time goes"): tick_to_delivered, delivered_to_applying, write, commit, ack, tick_to_committed.
 */
export class ApplyStages {
  /** Deliveries not yet taken into a destination transaction: their first position and when they came. */
  private arrivals: { firstPos: number; at: number }[] = [];

  constructor(private readonly origin: string) {}

  /** Milliseconds of one stage (the origin's tick times are its clock). */
  observe(stage: string, ms: number): void {
    if (Number.isFinite(ms)) applyStageSeconds.observe({ origin: this.origin, stage }, Math.max(0, ms) / 1000);
  }

  /** A delivery whose first change is at `firstPos` came at `at` (ms). */
  delivered(firstPos: number, at: number): void {
    if (this.arrivals.length < 10_000) this.arrivals.push({ firstPos, at });
  }

  /** The apply took changes up to `upTo`: every delivery that began at or below waited until now. */
  taken(upTo: number): void {
    const now = Date.now();
    while (this.arrivals.length && this.arrivals[0].firstPos <= upTo) this.observe('delivered_to_applying', now - this.arrivals.shift()!.at);
  }
}
