import type { Queryable } from '../common/db';
import { StreamError } from '../common/errors';
import type { Logger } from '../common/logger';
import { clockSkew, conflictsResolved } from '../common/metrics';
import type { Change } from '../protocol/envelope';
import { memberSignature } from '../protocol/json-scan';
import { deleteRows, insertRows, updateKey, updateRows } from './bulk-sql';
import { collapse, segments, statements, TableFinals } from './collapse';
import { applySums, resetShares, takeShares } from './counters-sql';
import { parentsFirst } from './fk-order';
import { LocalState, readLocalStates } from './local-state';
import { LocalWriteRace } from './local-write-race';
import type { Policy } from './merge';
import { Pipeline } from './pipeline';
import { decideEach } from './decide';
import { Conflict, describe, versionOf } from './resolve';
import { exactTextColumns, keyColumns, writableColumns } from './rows';
import { applyTruncate } from './serial-sql';
import type { TableCatalog, TableInfo } from './table-info';
import { UniqueGuard } from './unique-guard';
import { advanceClockPast, recordConflicts, recordVersions, recordVersionsOf, stillAbsent, VersionRecord } from './version-sql';

export interface GroupContext {
  catalog: TableCatalog;
  /** The DC whose changes these are. */
  origin: string;
  /** This DC. */
  self: string;
  policy: Policy;
  /** The user's SQL function, for policy `function`. */
  fn?: string;
  maxClockSkewMs: number;
  onClockSkew: 'alert' | 'stop';
  /**
   * Keep the versions of the rows written (and tombstones). Only a third DC's change can meet them:
   * with a single peer, its own later changes come in order and this DC's later writes have later
   * versions, so nothing would ever read them.
   */
  keepVersions: boolean;
  log: Logger;
}

/** When the clock-skew alarm of each origin was last logged. */
const skewLoggedAt = new Map<string, number>();

interface Plan {
  t: TableInfo;
  f: TableFinals;
  keys: string[];
  states: LocalState[];
  /** upserts, then deletes: the order of `states` */
  all: Change[];
}

/**
 * Writes changes of one origin (whole source transactions, in position order) inside the open
 * destination transaction (DESIGN.md §3.5, §6). Each bulk segment is collapsed to the final state of
 * its rows; each row's version here is read, the merge rule decides, and the winners are written per
 * table and kind in set-based statements, tables ordered by this DC's foreign keys (upserts parents
 * first, deletes children first), with their versions, the conflicts and the clock. TRUNCATE and key
 * changes go one by one in origin order, and so does a segment that is not safe in bulk
 * (references in a cycle, two keys naming one row).
 */
export class GroupWriter {
  private conflicts: Conflict[] = [];
  /** The columns each column set writes (checked against this DC's table once per set). */
  private readonly writable = new Map<string, string[]>();
  /** How far ahead of this DC's clock the newest change written was stamped (0 when behind). */
  aheadMs = 0;
  /** The destination connection; the writes of a bulk segment are sent without waiting for each. */
  private readonly db: Pipeline;

  constructor(
    db: Queryable,
    private readonly ctx: GroupContext,
  ) {
    this.db = new Pipeline(db);
  }

  async write(changes: Change[]): Promise<void> {
    if (!changes.length) return;
    const maxMs = changes.reduce((m, c) => Math.max(m, c.ms), 0);
    for (const seg of segments(changes)) {
      if (seg.kind === 'bulk' && (await this.bulk(seg.tables))) continue;
      if (seg.kind === 'bulk') {
        for (const c of seg.changes) await this.one(c);
        continue;
      }
      for (const st of statements(seg.changes)) {
        if (st[0].op === 'T') await this.truncate(st);
        else for (const c of st) await this.one(c);
      }
    }
    // a causally later local write must beat what was applied: the clock moves past it (§6); the
    // skew alarm is told in the same round trip (a stop rolls all of this back)
    if (maxMs > 0) this.checkSkew(maxMs, await advanceClockPast(this.db, maxMs, this.ctx.onClockSkew === 'stop' ? this.ctx.maxClockSkewMs : null), changes);
    await recordConflicts(this.db, this.ctx.self, this.conflicts);
    for (const x of this.conflicts) conflictsResolved.inc({ origin: this.ctx.origin, table: x.table, rule: x.rule, winner: x.winner });
    if (this.conflicts.length) this.ctx.log.info({ conflicts: this.conflicts.length, first: describe(this.conflicts[0]) }, 'resolved conflicts');
    this.conflicts = [];
    await this.db.drain();
  }

  /**
   * The table catalog reads on the connection beside the pipeline: what was sent settles first, so
   * a failure names its statement, not the aborted transaction the catalog's read would meet.
   */
  private async table(name: string, pos: number): Promise<TableInfo> {
    await this.db.drain();
    return this.ctx.catalog.get(name, { pos });
  }

  private async truncate(st: Change[]): Promise<void> {
    await this.db.drain(); // (see table())
    await applyTruncate(this.db, this.ctx.catalog, st);
  }

  /** One change on its own, in origin order. */
  private async one(c: Change): Promise<void> {
    if (c.op === 'T') return this.truncate([c]);
    if (c.old !== null) return this.rekey(c);
    if (!(await this.bulk(collapse([c])))) throw new Error('a single change cannot be unsafe in bulk');
  }

  /**
   * A key change. When it wins at both keys (the old row is here, the new key is free), it is an
   * UPDATE of the key, as at the origin, so ON UPDATE CASCADE and ON DELETE CASCADE here do what
   * they did there. Otherwise the old key is deleted and the new one written, each if it wins.
   */
  private async rekey(c: Change): Promise<void> {
    const { origin, self } = this.ctx;
    const t = await this.table(c.table, c.pos);
    const keys = keyColumns(t, origin, c);
    const [old, neu] = await readLocalStates(this.db, t, keys, [c.old!, c.key!], self);
    const plan: Plan = { t, f: { table: c.table, upserts: [c], deletes: [] }, keys, states: [neu, old], all: [c, { ...c, key: c.old }] };
    const [winsNew, winsOld] = await this.decide(plan, 0, 2);
    if (winsNew && winsOld && old.exists && !neu.exists) {
      const write = writableColumns(t, origin, c);
      if ((await updateKey(this.db, t, keys, write, new Set(exactTextColumns(c, write)), c, old.xmin!)) !== 1) throw new LocalWriteRace(`changing a key of ${t.wireName}`);
      const v = versionOf(c, origin);
      if (this.ctx.keepVersions)
        await recordVersions(this.db, t, [
        { key: c.key!, version: v, deleted: false, pos: c.pos, expect: neu.entry },
        { key: c.old!, version: v, deleted: true, pos: c.pos, expect: old.entry },
      ]);
      return;
    }
    const del: Change = { ...c, op: 'D', key: c.old, row: null, old: null, counters: undefined, jsonText: undefined };
    await this.bulk([{ table: c.table, upserts: [{ ...c, old: null }], deletes: [] }]);
    await this.bulk([{ table: c.table, upserts: [], deletes: [del] }]);
  }

  private checkSkew(maxMs: number, wall: number, changes: Change[]): void {
    const ahead = maxMs - wall;
    this.aheadMs = Math.max(0, ahead);
    clockSkew.set({ origin: this.ctx.origin }, this.aheadMs);
    if (ahead <= this.ctx.maxClockSkewMs) return;
    const c = changes.find((x) => x.ms === maxMs)!;
    const msg = `clock skew: a change of ${this.ctx.origin} is stamped ${Math.round(ahead / 1000)} s ahead of this DC's clock (more than conflicts.maxClockSkewMs = ${this.ctx.maxClockSkewMs}); one of the two clocks is wrong`;
    if (this.ctx.onClockSkew === 'stop') {
      throw new StreamError(`${msg}. Fix the clock and run \`ferry resume --origin ${this.ctx.origin}\`, or set conflicts.onClockSkew: alert`, { origin: this.ctx.origin, pos: c.pos });
    }
    // once per origin every 10 s: a wrong clock stamps every change, and the alarm is the metric
    const last = skewLoggedAt.get(this.ctx.origin) ?? 0;
    if (Date.now() - last < 10_000) return;
    skewLoggedAt.set(this.ctx.origin, Date.now());
    this.ctx.log.error({ pos: c.pos, aheadMs: ahead }, `${msg}; applied anyway (conflicts.onClockSkew: alert; said again in 10 s if it goes on)`);
  }

  /** false (nothing written) when these finals must go one by one in origin order instead. */
  private async bulk(tables: TableFinals[]): Promise<boolean> {
    const { origin, self } = this.ctx;
    const info = new Map<string, TableInfo>();
    for (const f of tables) info.set(f.table, await this.table(f.table, (f.upserts[0] ?? f.deletes[0]).pos));
    const byOid = new Map([...info.values()].map((t) => [t.oid, t.wireName]));
    const order = parentsFirst(
      tables.map((f) => f.table),
      (name) => info.get(name)!.parents.flatMap((p) => byOid.get(p) ?? []),
    );
    if (!order) return false;
    const finals = new Map(tables.map((f) => [f.table, f]));
    const reads: Omit<Plan, 'states'>[] = [];
    for (const name of order) {
      const f = finals.get(name)!;
      const t = info.get(name)!;
      const all = [...f.upserts, ...f.deletes];
      const keys = keyColumns(t, origin, all[0]);
      // every final of a table must name its row by the same columns (a re-track may change them)
      const keySig = keys.join('\0');
      if (all.some((c) => memberSignature(c.key!) !== keySig)) return false;
      reads.push({ t, f, keys, all });
    }
    // every table's read sent at once: PostgreSQL runs one while the applier takes in the one before
    const read = reads.map((r) => readLocalStates(this.db, r.t, r.keys, r.all.map((c) => c.key!), self));
    const plans: Plan[] = [];
    for (const [i, r] of reads.entries()) {
      const states = await read[i];
      // two keys naming one row (the same value written two ways): only origin order is safe
      // (a ctid is per partition: the row's table is part of where it is)
      const ctids = states.filter((s) => s.exists).map((s) => `${s.rel}/${s.ctid}`);
      if (new Set(ctids).size !== ctids.length) {
        await Promise.all(read); // (a read that failed is the failure to report)
        return false;
      }
      plans.push({ ...r, states });
    }
    // the versions of every table's upserts in one statement, once all of them are written
    const versions: { t: TableInfo; records: VersionRecord[] }[] = [];
    for (const p of plans) versions.push({ t: p.t, records: await this.upsertTable(p) });
    if (this.ctx.keepVersions) this.db.send(recordVersionsOf(this.db, versions));
    for (const p of [...plans].reverse()) await this.deleteTable(p);
    return true;
  }

  /** Whether each of the plan's changes [from, from + n) wins here (decide.ts). */
  private decide(p: Plan, from: number, n: number): Promise<boolean[]> {
    return decideEach(this.db, this.ctx, p.t, p.all.slice(from, from + n), p.states.slice(from, from + n), this.conflicts);
  }

  /** Writes the winners of a table's upserts; returns the versions to record for them. */
  private async upsertTable(p: Plan): Promise<VersionRecord[]> {
    const { t, f, keys, states } = p;
    const versions: VersionRecord[] = [];
    const winners: { c: Change; s: LocalState }[] = [];
    const wins = await this.decide(p, 0, f.upserts.length);
    for (let i = 0; i < f.upserts.length; i++) if (wins[i]) winners.push({ c: f.upserts[i], s: states[i] });
    // a unique index other than the key: the winner by version holds the value, the loser is quarantined
    const kept = await new UniqueGuard(this.db, this.ctx, t, keys, new Set(p.all.map((c) => c.key!)), (x) => this.conflicts.push(x)).filter(winners);
    // one statement per column set, and per set of columns that came as exact text
    const bySig = new Map<string, { write: string[]; asText: Set<string>; update: Change[]; xmins: string[]; insert: Change[] }>();
    for (const { c, s } of kept) {
      const cols = memberSignature(c.row!);
      let write = this.writable.get(`${t.oid}\u0002${cols}`);
      if (!write) this.writable.set(`${t.oid}\u0002${cols}`, (write = writableColumns(t, this.ctx.origin, c)));
      const exact = exactTextColumns(c, write);
      const sig = exact.length ? `${cols}\u0001${exact.join('\0')}` : cols;
      let g = bySig.get(sig);
      if (!g) bySig.set(sig, (g = { write, asText: new Set(exact), update: [], xmins: [], insert: [] }));
      if (s.exists) {
        g.update.push(c);
        g.xmins.push(s.xmin!);
      } else g.insert.push(c);
      if (this.ctx.keepVersions) versions.push({ key: c.key!, version: versionOf(c, this.ctx.origin), deleted: false, pos: c.pos, expect: s.entry });
    }
    // a row that holds the key or a unique value committed since it was looked for (a local
    // write, or the applier of another origin): the group goes again and finds it this time
    const raced = (e: unknown) => {
      const pg = e as { code?: string; constraint?: string };
      if (pg.code === '23505' && t.uniqueKeys.some((u) => u.index === pg.constraint)) throw new LocalWriteRace(`writing ${t.wireName} (${pg.constraint})`);
      throw e;
    };
    // sent, each checked when it has run (pipeline.ts)
    for (const g of bySig.values()) {
      const n = g.update.length;
      if (n)
        this.db.send(
          updateRows(this.db, t, keys, g.write, g.asText, g.update, g.xmins).then((done) => {
            if (done !== n) throw new LocalWriteRace(`updating ${t.wireName}`);
          }, raced),
        );
      if (g.insert.length) this.db.send(insertRows(this.db, t, g.write, g.asText, g.insert).catch(raced));
    }
    // counter shares travel whoever wins the rest of the row (unless a newer delete reset them)
    const counted = f.upserts.filter((c) => c.counters);
    if (counted.length) {
      await takeShares(this.db, t, this.ctx.origin, counted);
      const cols = [...new Set(counted.flatMap((c) => Object.keys(c.counters!)))].filter((k) => t.columns.has(k));
      await applySums(this.db, t, keys, counted.map((c) => c.key!), cols);
    }
    return versions;
  }

  private async deleteTable(p: Plan): Promise<void> {
    const n = p.f.upserts.length;
    const gone: { c: Change; s: LocalState }[] = [];
    const wins = await this.decide(p, n, p.f.deletes.length);
    for (let i = 0; i < p.f.deletes.length; i++) if (wins[i]) gone.push({ c: p.f.deletes[i], s: p.states[n + i] });
    const present = gone.filter((x) => x.s.exists);
    if (present.length) {
      const deleted = deleteRows(this.db, p.t, p.keys, present.map((x) => x.c.key!), present.map((x) => x.s.xmin!));
      this.db.send(
        deleted.then((done) => {
          if (done !== present.length) throw new LocalWriteRace(`deleting from ${p.t.wireName}`);
        }),
      );
    }
    // tombstones: a late change elsewhere cannot bring the rows back
    if (this.ctx.keepVersions) {
      const tombstones = gone.map(({ c, s }) => ({ key: c.key!, version: versionOf(c, this.ctx.origin), deleted: true, pos: c.pos, expect: s.entry }));
      this.db.send(recordVersions(this.db, p.t, tombstones));
      // nothing held the keys found absent: a write of this DC that inserted one meanwhile waited
      // for the versions above (capture locks the key's entry) and is visible now, or comes later
      // with a later version
      this.db.send(stillAbsent(this.db, p.t, p.keys, gone.filter((x) => !x.s.exists).map((x) => x.c.key!)));
    }
    await resetShares(this.db, p.t, this.ctx.origin, p.f.deletes);
  }
}
