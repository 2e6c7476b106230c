import type { FerryConfig } from '../config/schema';
import type { Queryable } from '../common/db';
import { readApplied } from '../tables/applied';
import { forwardState } from '../tables/ticks';
import { recordedIdentity } from '../tables/state';
import { conflictsByOrigin } from '../tables/conflicts';

export interface PeerStatus {
  origin: string;
  appliedPos: number;
  headPos: number;
  lagChanges: number;
  lagSeconds: number;
  status: 'running' | 'stopped';
  error: string | null;
  errorPos: number | null;
  appliedAt: string | null;
  /** How far ahead of this DC's clock the origin's newest change applied was stamped. */
  clockSkewMs: number;
  /** Above conflicts.maxClockSkewMs: one of the two clocks is wrong. */
  clockSkewAlarm: boolean;
  /** Conflicts resolved here for this origin's changes, by table. */
  conflicts: Record<string, number>;
  /** The origin's lineage applied here (null: none seen yet) and one a stopped stream was offered. */
  lineage: string | null;
  lineageOffered: string | null;
}

export interface LocalStatus {
  origin: string;
  publishedPos: number;
  lastTick: number;
  pendingTicks: number;
  unticked: number;
  lastPublishedAt: string | null;
  forwarderEpoch: number;
  /** This DC's own lineage (frames carry it) and the position it forked from its parent at. */
  lineage: string;
  lineageSince: number;
}

export interface DcStatus {
  dc: string;
  local: LocalStatus;
  peers: PeerStatus[];
  /** Applied position per origin: this DC's version vector. */
  vector: Record<string, number>;
  healthy: boolean;
}

/** What `ferry status`, GET /status and /readyz report, read from this DC's database only. */
export async function dcStatus(db: Queryable, cfg: FerryConfig): Promise<DcStatus> {
  const f = await forwardState(db);
  const own = await recordedIdentity(db);
  const local: LocalStatus = { origin: cfg.origin, ...f, lastPublishedAt: f.lastPublishedAt ? f.lastPublishedAt.toISOString() : null, lineage: own.lineage, lineageSince: own.since };
  const now = Date.now();
  const conflictCounts = await conflictsByOrigin(db);
  const peers: PeerStatus[] = [];
  for (const origin of cfg.peers) {
    const s = await readApplied(db, origin);
    const lag = Math.max(0, s.seenPos - s.pos);
    peers.push({
      origin,
      appliedPos: s.pos,
      headPos: Math.max(s.seenPos, s.pos),
      lagChanges: lag,
      lagSeconds: lag > 0 && s.sourceAt ? Math.max(0, (now - new Date(s.sourceAt).getTime()) / 1000) : 0,
      status: s.status,
      error: s.error,
      errorPos: s.errorPos,
      appliedAt: s.appliedAt ? new Date(s.appliedAt).toISOString() : null,
      clockSkewMs: s.clockAheadMs,
      clockSkewAlarm: s.clockAheadMs > cfg.conflicts.maxClockSkewMs,
      conflicts: conflictCounts[origin] ?? {},
      lineage: s.lineage.id,
      lineageOffered: s.lineageOffered?.id ?? null,
    });
  }
  const vector: Record<string, number> = { [cfg.origin]: local.publishedPos };
  for (const p of peers) vector[p.origin] = p.appliedPos;
  return { dc: cfg.origin, local, peers, vector, healthy: peers.every((p) => p.status === 'running') };
}

export function formatStatus(s: DcStatus): string {
  const lines = [
    `DC ${s.dc}: ${s.healthy ? 'healthy' : 'NEEDS ATTENTION'}`,
    `  capture/forward (${s.local.origin}): published up to pos ${s.local.publishedPos}, tick ${s.local.lastTick}, ${s.local.pendingTicks} tick(s) waiting to publish, ${s.local.unticked} change id(s) not yet in a tick, lineage ${s.local.lineage}${s.local.lineageSince ? ` (forked at ${s.local.lineageSince})` : ''}`,
    `  version vector (position per origin): ${Object.entries(s.vector).map(([o, p]) => `${o} ${p}`).join(', ')}`,
  ];
  for (const p of s.peers) {
    lines.push(
      `  apply from ${p.origin}: applied ${p.appliedPos} of ${p.headPos} seen, lag ${p.lagChanges} change(s) / ${p.lagSeconds.toFixed(1)} s, ${p.status}` +
        (Object.keys(p.conflicts).length ? `, conflicts ${Object.entries(p.conflicts).map(([t, n]) => `${t} ${n}`).join(', ')}` : '') +
        (p.clockSkewAlarm ? `\n    CLOCK SKEW: its changes are stamped ${Math.round(p.clockSkewMs / 1000)} s ahead of this DC's clock` : '') +
        (p.error ? `\n    error at pos ${p.errorPos}: ${p.error}` : ''),
    );
  }
  return lines.join('\n');
}
