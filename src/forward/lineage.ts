import type { Client } from 'pg';
import { inTransaction, Queryable } from '../common/db';
import { LineageError } from '../common/errors';
import { FORWARDER_KEY, LOCK_CLASS } from '../common/locks';
import { currentIdentity, CurrentIdentity, recordedIdentity, RecordedIdentity, startLineage, tickedXidHigh } from '../tables/state';
import { bridgeXidSpaces, stampedEnd } from '../tables/ticks';

/**
 * The origin's lineage (docs/operations.md, "Restore, failover and lineage"): the history of this
 * database its stream of positions belongs to. Positions are dense and stamped in the database, so a
 * database that went back in time (restored to an earlier point, a standby promoted with the
 * primary's last changes missing) or moved to another cluster would hand out positions again that
 * its peers already hold with other changes, and they would drop the new changes as duplicates.
 * The forwarder checks before it leads, and stops instead.
 */
export interface Lineage {
  id: string;
  /** Positions up to here are the parent lineage's. */
  since: number;
}

/** What differs between the database as recorded and as it is now; empty when nothing does. */
export function lineageChanges(rec: RecordedIdentity, now: CurrentIdentity, tickedXid: string): string[] {
  const out: string[] = [];
  if (rec.systemIdentifier !== null && now.systemIdentifier !== null && rec.systemIdentifier !== now.systemIdentifier) {
    out.push(`it is another cluster than the one its stream was recorded in (system_identifier ${now.systemIdentifier}, recorded ${rec.systemIdentifier}): restored or copied into a new cluster`);
  }
  if (BigInt(now.nextXid) < BigInt(tickedXid)) {
    out.push(`its transaction ids went backwards (the next is ${now.nextXid}, its ticks saw ${tickedXid} handed out): a copy in another cluster`);
  }
  if (rec.timeline !== null && now.timeline !== null && rec.timeline !== now.timeline) {
    out.push(`it writes WAL timeline ${now.timeline}, recorded ${rec.timeline}: a standby was promoted, or it was restored to an earlier point in time`);
  }
  return out;
}

/** The forwarder, before it leads: the lineage its frames carry, or a LineageError that says what happened and what to run. */
export async function checkLineage(db: Queryable, origin: string): Promise<Lineage> {
  const rec = await recordedIdentity(db);
  const now = await currentIdentity(db);
  const changed = lineageChanges(rec, now, await tickedXidHigh(db));
  if (changed.length) {
    throw new LineageError(
      `the database of ${origin} is not the one its stream of positions was recorded in: ${changed.join('; ')}. ` +
        `Changes the earlier database published after this one's last point are not here, and positions from there on would be handed out again with other changes, ` +
        `so the forwarder stops instead. Check what was lost (docs/operations.md, "Restore, failover and lineage"), then run \`ferry lineage accept --config FILE\` here: ` +
        `it starts a new lineage of ${origin} at its last stamped position, which every peer then accepts with \`ferry lineage accept --origin ${origin} --config FILE\``,
    );
  }
  // nothing recorded yet (a role that could not read it at init): trust what is seen first
  if (rec.systemIdentifier === null || rec.timeline === null) {
    await db.query('update ferry.state set system_identifier = coalesce(system_identifier, $1), timeline = coalesce(timeline, $2)', [now.systemIdentifier, now.timeline]);
  }
  return { id: rec.lineage, since: rec.since };
}

export interface Accepted {
  lineage: string;
  parent: string;
  since: number;
  /** What differed (empty: the operator started a new lineage for a reason Ferry cannot see). */
  changed: string[];
  /** A tick that starts the chain again in this cluster's xid space, when the xids are another cluster's. */
  bridge: { tick: number; moved: number } | null;
}

/**
 * `ferry lineage accept` at the origin: the database as it is now is this origin's, from its last
 * stamped position on, under a new lineage id. Refused while a forwarder leads (it must not stamp
 * meanwhile).
 */
export async function acceptOwnLineage(db: Client, origin: string): Promise<Accepted> {
  return inTransaction(db, async () => {
    const lock = await db.query<{ ok: boolean }>('select pg_try_advisory_xact_lock($1, $2) as ok', [LOCK_CLASS, FORWARDER_KEY]);
    if (!lock.rows[0].ok) throw new LineageError(`a forwarder of ${origin} is running against this database: stop it (\`ferry run\` / \`ferry forward\`), then run \`ferry lineage accept\` again`);
    const rec = await recordedIdentity(db);
    const now = await currentIdentity(db);
    const ticked = await tickedXidHigh(db);
    const changed = lineageChanges(rec, now, ticked);
    const otherXids = (rec.systemIdentifier !== null && now.systemIdentifier !== null && rec.systemIdentifier !== now.systemIdentifier) || BigInt(now.nextXid) < BigInt(ticked);
    const since = (await stampedEnd(db)).pos;
    const bridge = otherXids ? await bridgeXidSpaces(db, now.nextXid) : null;
    const started = await startLineage(db, now, since, bridge?.tick ?? null);
    return { ...started, since, changed, bridge };
  });
}
