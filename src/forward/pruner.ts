import { Pool } from 'pg';
import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';

/**
 * Keeps the change tables bounded without bloat: switches capture to the next of three tables
 * when the current one is old or large enough, and TRUNCATEs the others once every row in them is
 * in a published batch (ferry.rotate / ferry.prune). Published ticks are kept for a while only.
 */
export class Pruner {
  private lastRun = 0;

  constructor(
    private readonly pool: Pool,
    private readonly cfg: FerryConfig['forward'],
    private readonly log: Logger,
    private readonly everyMs = 1000,
  ) {}

  async maybeRun(): Promise<void> {
    if (Date.now() - this.lastRun < this.everyMs) return;
    this.lastRun = Date.now();
    await this.run();
  }

  async run(): Promise<void> {
    const pruned = (await this.pool.query<{ s: number[] }>('select ferry.prune() as s')).rows[0].s;
    if (pruned.length) this.log.debug({ slots: pruned }, 'emptied change tables');
    const st = await this.pool.query<{ age_ms: number; since: string }>(
      `select extract(epoch from clock_timestamp() - rotated_at) * 1000 as age_ms,
              (select case when is_called then last_value else 0 end from ferry.change_id_seq) - rotated_at_id as since
         from ferry.state`,
    );
    const { age_ms, since } = st.rows[0];
    if (Number(since) > 0 && (age_ms >= this.cfg.rotateIntervalMs || Number(since) >= this.cfg.rotateMaxChanges)) {
      const ok = (await this.pool.query<{ ok: boolean }>('select ferry.rotate() as ok')).rows[0].ok;
      if (ok) this.log.debug({ since: Number(since) }, 'rotated the change table');
      else this.log.debug('rotation waits: the next change table still holds unpublished rows');
    }
    await this.pool.query(
      `delete from ferry.ticks where published_at is not null
          and tick < (select max(tick) from ferry.ticks where published_at is not null) - 10000`,
    );
  }
}
