import type { Client } from 'pg';
import { tombstones } from '../tables/row-versions';
import { readMark, Side, waitPast, Mark } from './settle';
import { KeyRange, rangeRows, rangeSum, rowsByKey, splitKeys, VerifyTable } from './table-sql';

/** A range of at most this many rows is compared row by row. */
const LEAF_ROWS = 1000;
/** A differing range is cut into this many. */
const FANOUT = 16;

export interface DbSide extends Side {
  db: Client;
}

export interface KeyDifference {
  key: string;
  /** The row's hash on each side; null: the row is missing there. */
  here: string | null;
  there: string | null;
}

export interface PairReport {
  table: string;
  peer: string;
  rowsHere: number;
  rowsThere: number;
  /** Ranges compared row by row because their checksums differed. */
  rangesNarrowed: number;
  differences: KeyDifference[];
  /** Keys still different after every round, written again each time in between: not decided. */
  unsettled: string[];
  note?: string;
}

export interface CompareOptions {
  /** How long each round may wait for the changes in flight. */
  settleMs: number;
  /** How many rounds a key written again in between is looked at again. */
  rounds: number;
  /** Progress, for people (`ferry verify --verbose`). */
  say?: (line: string) => void;
}

type Row = { hash: string; xmin: string } | undefined;
/** What a later write would change: the row's xmin, or its tombstone when it is gone. */
const identity = (row: Row, tomb: string | undefined) => (row ? `x${row.xmin}` : `t${tomb ?? ''}`);

interface Read {
  rows: Map<string, { hash: string; xmin: string }>;
  tombs: Map<string, string>;
}

/** One table still being looked at: the keys that differed at the last read, and that read. */
interface Pending {
  th: VerifyTable;
  tt: VerifyTable;
  report: PairReport;
  keys: string[];
  here: Read;
  there: Read;
}

/**
 * Compares tables between two DCs without stopping writes. Per table: checksums of key ranges,
 * narrowed where they differ down to ranges read row by row. The keys that differ there are read
 * again, for all tables at once, after each side has applied everything the other had at the last
 * read (one wait per round, whatever the number of tables). A key still different whose row
 * neither side wrote in between differs for real; one written in between is looked at again.
 */
export async function compareTables(here: DbSide, there: DbSide, tables: { th: VerifyTable; tt: VerifyTable }[], opts: CompareOptions): Promise<PairReport[]> {
  const say = opts.say ?? (() => undefined);
  const reports: PairReport[] = [];
  let pending: Pending[] = [];
  let marks: { here: Mark; there: Mark } | undefined;
  for (const { th, tt } of tables) {
    const whole = { lo: null, hi: null };
    const [sh, st] = await Promise.all([rangeSum(here.db, th, whole), rangeSum(there.db, tt, whole)]);
    const report: PairReport = { table: th.name, peer: there.dc, rowsHere: sh.count, rowsThere: st.count, rangesNarrowed: 0, differences: [], unsettled: [] };
    reports.push(report);
    if (sh.count === st.count && sh.sum === st.sum) {
      say(`${th.name} vs ${there.dc}: checksums equal (${sh.count} rows)`);
      continue;
    }
    const leaves = await narrow(here, there, th, tt, whole, Math.max(sh.count, st.count));
    report.rangesNarrowed = leaves.length;
    const [rh, rt] = await Promise.all([inSnapshot(here, (m) => readRanges(here, th, leaves, m)), inSnapshot(there, (m) => readRanges(there, tt, leaves, m))]);
    // the last read's marks: waiting past them waits past every earlier read's too
    marks = { here: rh.mark, there: rt.mark };
    const keys = [...new Set([...rh.read.rows.keys(), ...rt.read.rows.keys()])].filter((k) => rh.read.rows.get(k)?.hash !== rt.read.rows.get(k)?.hash);
    say(`${th.name} vs ${there.dc}: ${leaves.length} range(s) differ, ${keys.length} key(s) to look at again`);
    if (keys.length) pending.push({ th, tt, report, keys, here: rh.read, there: rt.read });
  }

  for (let round = 1; pending.length && marks && round <= opts.rounds; round++) {
    const started = Date.now();
    const why = await waitPast(here, there, marks.here, marks.there, Date.now() + opts.settleMs);
    if (why) {
      for (const p of pending) p.report.note = `could not wait for the changes in flight: ${why}`;
      break;
    }
    const [nh, nt] = await Promise.all([
      inSnapshot(here, (m) => readKeys(here, pending.map((p) => [p.th, p.keys]), m)),
      inSnapshot(there, (m) => readKeys(there, pending.map((p) => [p.tt, p.keys]), m)),
    ]);
    marks = { here: nh.mark, there: nt.mark };
    const next: Pending[] = [];
    let left = 0;
    pending.forEach((p, i) => {
      const h2 = nh.read[i];
      const t2 = nt.read[i];
      const again: string[] = [];
      for (const k of p.keys) {
        const h = h2.rows.get(k);
        const t = t2.rows.get(k);
        if (h?.hash === t?.hash) continue; // it was in flight
        const still = identity(h, h2.tombs.get(k)) === identity(p.here.rows.get(k), p.here.tombs.get(k)) && identity(t, t2.tombs.get(k)) === identity(p.there.rows.get(k), p.there.tombs.get(k));
        if (still) p.report.differences.push({ key: k, here: h?.hash ?? null, there: t?.hash ?? null });
        else again.push(k);
      }
      left += again.length;
      if (again.length) next.push({ ...p, keys: again, here: h2, there: t2 });
      else p.report.unsettled = [];
    });
    say(`round ${round} vs ${there.dc}: waited and read again in ${Date.now() - started} ms; ${left} key(s) written again meanwhile`);
    pending = next;
  }
  for (const p of pending) p.report.unsettled = p.keys;
  for (const r of reports) r.differences.sort((a, b) => (a.key < b.key ? -1 : 1));
  return reports;
}

/** The ranges whose checksums differ, cut down until each holds at most LEAF_ROWS rows. */
async function narrow(here: DbSide, there: DbSide, th: VerifyTable, tt: VerifyTable, range: KeyRange, count: number): Promise<KeyRange[]> {
  if (count <= LEAF_ROWS) return [range];
  // cut where the side with more rows in the range says (a side may miss rows the other has)
  const [sh, st] = await Promise.all([rangeSum(here.db, th, range), rangeSum(there.db, tt, range)]);
  const [db, t, n] = sh.count >= st.count ? [here.db, th, sh.count] : [there.db, tt, st.count];
  const cuts = await splitKeys(db, t, range, n, FANOUT);
  if (!cuts.length) return [range];
  const bounds = [range.lo, ...cuts, range.hi];
  const out: KeyRange[] = [];
  for (let i = 0; i + 1 < bounds.length; i++) {
    const r = { lo: bounds[i], hi: bounds[i + 1] };
    const [a, b] = await Promise.all([rangeSum(here.db, th, r), rangeSum(there.db, tt, r)]);
    if (a.count === b.count && a.sum === b.sum) continue;
    out.push(...(await narrow(here, there, th, tt, r, Math.max(a.count, b.count))));
  }
  return out;
}

/** The rows of these ranges (read inside the snapshot of `mark`). */
async function readRanges(s: DbSide, t: VerifyTable, ranges: KeyRange[], mark: Mark): Promise<{ mark: Mark; read: Read }> {
  const rows = new Map<string, { hash: string; xmin: string }>();
  for (const r of ranges) for (const [k, v] of await rangeRows(s.db, t, r)) rows.set(k, v);
  return { mark, read: { rows, tombs: await tombstones(s.db, t.oid, null) } };
}

/** The rows of these keys of each table, all in one snapshot. */
async function readKeys(s: DbSide, wanted: [VerifyTable, string[]][], mark: Mark): Promise<{ mark: Mark; read: Read[] }> {
  const read: Read[] = [];
  for (const [t, keys] of wanted) read.push({ rows: await rowsByKey(s.db, t, keys), tombs: await tombstones(s.db, t.oid, keys) });
  return { mark, read };
}

/** Runs fn in one REPEATABLE READ snapshot of the side, with what the DC had applied then. */
async function inSnapshot<T>(s: DbSide, fn: (mark: Mark) => Promise<T>): Promise<T> {
  await s.db.query('begin isolation level repeatable read read only');
  try {
    return await fn(await readMark(s));
  } finally {
    await s.db.query('rollback').catch(() => undefined);
  }
}
