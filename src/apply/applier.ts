import { Pool } from 'pg';
import type { FerryConfig } from '../config/schema';
import { createPool } from '../common/db';
import { FencedError } from '../common/errors';
import { LeaderRole, runAsLeader } from '../common/leadership';
import { APPLY_LOCK_CLASS } from '../common/locks';
import type { Logger } from '../common/logger';
import { applyLeader } from '../common/metrics';
import { sleep } from '../common/sleep';
import { applierEpochs, readApplied } from '../tables/applied';
import type { Subscriber } from '../transport/types';
import { ApplySession } from './apply-session';

/** A stream stopped by a schema mismatch tries again after this long (times the tries, up to the max). */
const SCHEMA_RETRY_MS = 1000;
const SCHEMA_RETRY_MAX_MS = 10_000;

/**
 * Applies one origin's stream to this DC (DESIGN.md §3.4, §3.5): in position order, exactly once in
 * effect, each source transaction atomically, with the applied position recorded in the same
 * destination transaction. One process per (DC, origin) leads; others stand by and take over.
 */
export class Applier {
  private readonly pool: Pool;
  private readonly role: LeaderRole;

  constructor(
    private readonly cfg: FerryConfig,
    private readonly origin: string,
    private readonly subscriber: () => Subscriber,
    private readonly log: Logger,
  ) {
    // pipeline mode: the statements of a group are sent without waiting for each (apply/pipeline.ts)
    this.pool = createPool(cfg.database, { max: 2, application_name: `ferry-applier:${origin}`, pipeline: true });
    this.role = { name: `applier from ${origin}`, appName: `ferry-applier:${origin}`, lock: { classId: APPLY_LOCK_CLASS, text: origin }, epochs: applierEpochs(origin) };
  }

  async run(stop: AbortSignal): Promise<void> {
    try {
      await runAsLeader({
        url: this.cfg.database,
        role: this.role,
        log: this.log,
        stop,
        lead: async (leader, signal, log) => {
          applyLeader.set({ origin: this.origin }, 1);
          try {
            let schemaTries = 0;
            while (!signal.aborted) {
              const st = await readApplied(this.pool, this.origin);
              if (st.status === 'stopped' && st.errorKind === 'schema') {
                // this DC's schema did not take a change: try again by itself, less often as it goes on
                schemaTries++;
                await sleep(Math.min(SCHEMA_RETRY_MS * schemaTries, SCHEMA_RETRY_MAX_MS), signal);
              } else if (st.status === 'stopped' && st.errorKind !== 'gap') {
                // an operator must act (ferry resume / ferry skip); look again shortly
                await sleep(1000, signal);
                continue;
              } else schemaTries = 0;
              const session = new ApplySession(this.cfg, this.origin, this.pool, this.subscriber(), leader, log);
              if ((await session.run(signal)) === 'fenced') throw new FencedError(`applier from ${this.origin}: another applier leads now`);
            }
          } finally {
            applyLeader.set({ origin: this.origin }, 0);
          }
        },
      });
    } finally {
      await this.pool.end().catch(() => undefined);
    }
  }
}
