import { Pool } from 'pg';
import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import { sleep } from '../common/sleep';
import { pruneChanges, rotateChanges } from '../tables/changes';
import { rotationState } from '../tables/state';
import { forgetOldTicks } from '../tables/ticks';
import { peerVectors } from '../tables/applied';
import { forgetOldConflicts, purgeVersions, stableSnapshot, stableThresholds } from '../tables/row-versions';

/** Published ticks kept for `ferry status` and diagnosis. */
const KEEP_TICKS = 10_000;

/**
 * Keeps the change tables bounded without bloat: switches capture to the next of three tables
 * when the current one is old or large enough, and TRUNCATEs the others once every row in them is
 * in a published batch (ferry.rotate / ferry.prune). Published ticks are kept for a while only.
 */
export class Pruner {
  constructor(
    private readonly pool: Pool,
    private readonly cfg: FerryConfig,
    private readonly log: Logger,
    private readonly everyMs = 1000,
  ) {}

  /**
   * Prunes every everyMs until stop aborts, beside the publishing loop: none of this is on the way
   * of a batch (it was, once a second, between two publishes). A failed round is logged and tried
   * again a round later: nothing is lost by pruning late, and the publishing loop notices a database
   * that is gone on its own.
   */
  async loop(stop: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      try {
        await this.run();
      } catch (e) {
        if (!stop.aborted) this.log.warn({ err: e }, 'pruning failed; trying again in the next round');
      }
      await sleep(this.everyMs, stop);
    }
  }

  async run(): Promise<void> {
    const { origin, peers } = this.cfg;
    // what every peer has applied: versions older than that can meet nothing concurrent any more
    const thresholds = stableThresholds(origin, peers, await peerVectors(this.pool));
    const stable = await stableSnapshot(this.pool, thresholds[origin]);
    const pruned = await pruneChanges(this.pool, peers.length ? stable : null);
    if (pruned.length) this.log.debug({ slots: pruned }, 'emptied change tables');
    const purged = await purgeVersions(this.pool, origin, thresholds, stable);
    if (purged) this.log.debug({ purged }, 'purged row versions every peer has applied past');
    await forgetOldConflicts(this.pool, this.cfg.conflicts.keepDays);
    const { ageMs, changes } = await rotationState(this.pool);
    const f = this.cfg.forward;
    if (changes > 0 && (ageMs >= f.rotateIntervalMs || changes >= f.rotateMaxChanges)) {
      if (await rotateChanges(this.pool)) this.log.debug({ since: changes }, 'rotated the change table');
      else this.log.debug('rotation waits: the next change table still holds unpublished rows');
    }
    await forgetOldTicks(this.pool, KEEP_TICKS);
  }
}
