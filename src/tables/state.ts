import type { Queryable } from '../common/db';
import type { EpochStore } from '../common/leadership';

/** ferry.state: the one row of this DC's capture-side state. */

/** The forwarder's epoch (fencing, see common/leadership.ts). */
export const forwarderEpochs: EpochStore = {
  async bump(db) {
    const r = await db.query<{ e: string }>('update ferry.state set forwarder_epoch = forwarder_epoch + 1 returning forwarder_epoch as e');
    return Number(r.rows[0].e);
  },
  async current(db) {
    const r = await db.query<{ e: string }>('select forwarder_epoch as e from ferry.state for share');
    return Number(r.rows[0].e);
  },
};

/** How old the current change table is, and how many changes went to it. */
export async function rotationState(db: Queryable): Promise<{ ageMs: number; changes: number }> {
  const r = await db.query<{ age_ms: number; since: string }>(
    `select extract(epoch from clock_timestamp() - rotated_at) * 1000 as age_ms,
            (select case when is_called then last_value else 0 end from ferry.change_id_seq) - rotated_at_id as since
       from ferry.state`,
  );
  return { ageMs: Number(r.rows[0].age_ms), changes: Number(r.rows[0].since) };
}
