import type { Change } from '../protocol/envelope';
import type { LocalState } from './local-state';
import { beats, formatVersion, Policy, Version } from './merge';

/** One resolution of a remote change against a local version from another DC (ferry.conflicts). */
export interface Conflict {
  table: string;
  key: string;
  rule: string;
  winner: 'local' | 'remote';
  /** null: the local side is older than anything still to arrive (its version was purged). */
  local: Version | null;
  remote: Version;
  pos: number;
}

export const versionOf = (c: Change, origin: string): Version => ({ ms: c.ms, origin, seq: c.id });

/**
 * Whether a remote change wins over what this DC holds, by the policy. A local version from the
 * change's own origin is an earlier point of the same stream (no conflict); from another DC it is a
 * conflict, recorded whichever wins. `choose` is the user function's answer, when that policy asked.
 */
export function resolve(policy: Policy, c: Change, origin: string, local: LocalState, table: string, choose?: 'local' | 'remote'): { wins: boolean; conflict?: Conflict } {
  const remote = versionOf(c, origin);
  if (!local.version) return { wins: true };
  const wins = choose ? choose === 'remote' : beats(policy, remote, local.version);
  if (local.version.origin === origin) return { wins };
  return { wins, conflict: { table, key: c.key!, rule: choose ? 'function' : policy.kind, winner: wins ? 'remote' : 'local', local: local.version, remote, pos: c.pos } };
}

export const describe = (x: Conflict) => `${x.table} ${x.key}: ${x.winner} wins (${x.rule}; local ${x.local ? formatVersion(x.local) : 'settled'}, remote ${formatVersion(x.remote)})`;
