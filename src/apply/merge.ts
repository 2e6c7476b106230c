/**
 * The one merge rule (DESIGN.md §6): a pure function of two versions, used by the applier, by
 * repair and by the tests. A version is a hybrid logical clock reading (wall milliseconds kept
 * monotonic and causal by the database), the origin DC, and the change id at that origin (unique
 * and increasing there). Ties are broken by the versions only, never by which DC applies or in what
 * order changes arrive, so every DC reaches the same winner: the rule is commutative, associative
 * and idempotent.
 */
export interface Version {
  ms: number;
  origin: string;
  seq: number;
}

export type Policy = { kind: 'lww' } | { kind: 'origin-priority'; order: string[] };

/** Orders versions: by milliseconds, then origin, then the origin's change id. */
export function compareVersions(a: Version, b: Version): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.origin !== b.origin) return a.origin < b.origin ? -1 : 1;
  if (a.seq !== b.seq) return a.seq < b.seq ? -1 : 1;
  return 0;
}

/** Higher in the configured order ranks lower here; an origin not listed comes after every listed one. */
function rank(order: string[], origin: string): number {
  const i = order.indexOf(origin);
  return i < 0 ? order.length : i;
}

/**
 * Does `a` win over `b`? The later version wins. Between versions of the same millisecond, the
 * origin decides: by name (lww), or by the configured order (origin-priority). Time comes first
 * even under a priority: a write made after another was applied in its DC has the later version,
 * and letting an earlier write of a higher-priority DC win over it would leave that DC with a row
 * the others refuse. A version never beats itself (a redelivered change changes nothing).
 */
export function beats(policy: Policy, a: Version, b: Version): boolean {
  if (policy.kind === 'origin-priority' && a.ms === b.ms && a.origin !== b.origin) return rank(policy.order, a.origin) < rank(policy.order, b.origin);
  return compareVersions(a, b) > 0;
}

/** The greater of two versions under the policy (the winner). */
export const winner = (policy: Policy, a: Version, b: Version): Version => (beats(policy, b, a) ? b : a);

export const formatVersion = (v: Version) => `${v.ms}.${v.seq}@${v.origin}`;

export function parseVersion(text: string): Version {
  const m = /^(\d+)\.(\d+)@(.+)$/.exec(text);
  if (!m) throw new SyntaxError(`not a version: ${text}`);
  return { ms: Number(m[1]), seq: Number(m[2]), origin: m[3] };
}
