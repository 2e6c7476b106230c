import type { Queryable } from '../common/db';
import { LocalWriteRace } from './local-write-race';
import type { GroupContext } from './group-writer';
import { LocalState, readLocalStates } from './local-state';
import type { Change } from '../protocol/envelope';
import { beats } from './merge';
import { Conflict, versionOf } from './resolve';
import { rowsParam } from './rows';
import type { TableInfo } from './table-info';
import { deleteByKeyText, quarantine, uniqueHolders } from './version-sql';

/**
 * A unique index besides the key (an email, say): the same value written in two DCs under
 * different keys. The row with the greater version holds the value, in every DC alike; the other
 * is moved to ferry.quarantine (whole, with why) and the conflict is recorded. The stream never
 * stops for it.
 */
export class UniqueGuard {
  constructor(
    private readonly db: Queryable,
    private readonly ctx: GroupContext,
    private readonly t: TableInfo,
    private readonly keys: string[],
    /** Keys this group writes anyway: a row about to be rewritten holds nothing. */
    private readonly rewriting: Set<string>,
    private readonly onConflict: (c: Conflict) => void,
  ) {}

  async filter(winners: { c: Change; s: LocalState }[]): Promise<{ c: Change; s: LocalState }[]> {
    const keyCols = [...this.keys].sort().join('\0');
    const others = this.t.uniqueKeys.filter((u) => [...u.cols].sort().join('\0') !== keyCols && u.cols.every((c) => this.t.columns.has(c)));
    if (!others.length || !winners.length) return winners;
    const lost = new Set<number>();
    for (const index of others) {
      const live = winners.filter((_, i) => !lost.has(i));
      if (!live.length) break;
      const idx = winners.map((_, i) => i).filter((i) => !lost.has(i));
      for (const h of await uniqueHolders(this.db, this.t, index, this.keys, rowsParam(live.map((w) => w.c), new Set()))) {
        if (this.rewriting.has(h.key)) continue;
        const i = idx[h.n];
        const { c } = winners[i];
        const [held] = await readLocalStates(this.db, this.t, this.keys, [h.key], this.ctx.self);
        const incoming = versionOf(c, this.ctx.origin);
        const wins = !held.version || beats(this.ctx.policy, incoming, held.version);
        const rule = `unique:${index.index}`;
        this.onConflict({ table: this.t.wireName, key: c.key!, rule, winner: wins ? 'remote' : 'local', local: held.version, remote: incoming, pos: c.pos });
        if (wins) {
          // the holder gives way: kept whole in quarantine, then removed here
          await quarantine(this.db, this.ctx.self, [{ table: this.t.wireName, key: h.key, row: h.row, version: held.version ?? { ms: 0, origin: '', seq: 0 }, reason: `lost ${index.index} to ${c.key} (${rule})` }]);
          if ((await deleteByKeyText(this.db, this.t, this.keys, [h.key], [h.xmin])) !== 1) throw new LocalWriteRace(`moving a row of ${this.t.wireName} aside`);
        } else {
          // the incoming row loses, here as in every DC: its change, and the row it would have
          // changed if this DC has it, go to quarantine
          await quarantine(this.db, this.ctx.self, [{ table: this.t.wireName, key: c.key!, row: c.row, version: incoming, reason: `lost ${index.index} to ${h.key} (${rule})` }]);
          const { s } = winners[i];
          if (s.exists && (await deleteByKeyText(this.db, this.t, this.keys, [c.key!], [s.xmin!])) !== 1) throw new LocalWriteRace(`moving a row of ${this.t.wireName} aside`);
          lost.add(i);
        }
      }
    }
    return winners.filter((_, i) => !lost.has(i));
  }
}
