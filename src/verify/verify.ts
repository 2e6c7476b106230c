import type { Client } from 'pg';
import { checkOrigin } from '../capture/migrate';
import type { FerryConfig } from '../config/schema';
import { connect } from '../common/db';
import { FerryError } from '../common/errors';
import { safeUrl } from '../common/logger';
import { trackedTables } from '../tables/tracked';
import { compareTables, DbSide, PairReport } from './compare';
import { describeTable, SESSION, VerifyTable } from './table-sql';

export interface VerifyOptions {
  /** Only this table (schema.table, or a name the search path finds). */
  table?: string;
  /** How long each round waits for the changes in flight. */
  settleMs?: number;
  /** How many times a key written again meanwhile is looked at again. */
  rounds?: number;
  /** Progress, for people. */
  say?: (line: string) => void;
}

export interface VerifyReport {
  dc: string;
  peers: string[];
  tables: PairReport[];
  /** Every table equal in every peer. */
  equal: boolean;
  /** Some keys could not be decided (written again in every round, or the streams did not catch up). */
  undecided: boolean;
}

/** This DC and each peer, connected (peer databases from peerDatabases). */
export async function openSides(cfg: FerryConfig, only?: string[]): Promise<DbSide[]> {
  const want = only ?? cfg.peers;
  const missing = want.filter((p) => !cfg.peerDatabases[p]);
  if (missing.length) {
    throw new FerryError(`no database for ${missing.join(', ')}: set peerDatabases.<dc> in the config (or ${missing.map((p) => `FERRY_PEER_DATABASES__${p.toUpperCase().replace(/-/g, '_')}`).join(', ')})`);
  }
  const sides: DbSide[] = [];
  try {
    for (const [dc, url] of [[cfg.origin, cfg.database], ...want.map((p) => [p, cfg.peerDatabases[p]])]) {
      let db: Client;
      try {
        db = await connect(url, { application_name: 'ferry-verify' });
      } catch (e) {
        throw new FerryError(`cannot connect to ${dc}'s database ${safeUrl(url)}: ${(e as Error).message}`, { cause: e });
      }
      sides.push({ dc, db });
      await db.query(SESSION);
      await checkOrigin(db, dc);
    }
    return sides;
  } catch (e) {
    await closeSides(sides);
    throw e;
  }
}

export async function closeSides(sides: DbSide[]): Promise<void> {
  for (const s of sides) await s.db.end().catch(() => undefined);
}

/** Compares every tracked table (or one) of this DC with each peer (DESIGN.md §7). */
export async function verify(cfg: FerryConfig, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const sides = await openSides(cfg);
  try {
    const [here, ...peers] = sides;
    let tables = (await trackedTables(here.db)).filter((t) => t.active);
    if (opts.table) {
      const r = await here.db.query<{ oid: number | null }>('select to_regclass($1)::oid as oid', [opts.table]);
      tables = tables.filter((t) => t.oid === Number(r.rows[0].oid));
      if (!tables.length) throw new FerryError(`${opts.table} is not a table this DC tracks (\`ferry status\` and ferry.tracked list them)`);
    }
    const report: VerifyReport = { dc: cfg.origin, peers: peers.map((p) => p.dc), tables: [], equal: true, undecided: false };
    const described = [];
    for (const t of tables) described.push(await describeTable(here.db, t.name, t.keyCols));
    for (const p of peers) {
      const same: { th: VerifyTable; tt: VerifyTable }[] = [];
      for (const th of described) {
        const r = await peerTable(p, th);
        if ('peer' in r) report.tables.push(r);
        else same.push({ th, tt: r });
      }
      report.tables.push(...(await compareTables(here, p, same, { settleMs: opts.settleMs ?? 60_000, rounds: opts.rounds ?? 5, say: opts.say })));
    }
    for (const r of report.tables) {
      if (r.differences.length || r.note?.startsWith('schema')) report.equal = false;
      if (r.unsettled.length || (r.note && !r.note.startsWith('schema'))) report.undecided = true;
    }
    return report;
  } finally {
    await closeSides(sides);
  }
}

/** The peer's table, hashed as this DC's: or why it cannot be compared (a schema difference). */
async function peerTable(there: DbSide, th: VerifyTable): Promise<VerifyTable | PairReport> {
  const bad = (note: string): PairReport => ({ table: th.name, peer: there.dc, rowsHere: -1, rowsThere: -1, rangesNarrowed: 0, differences: [], unsettled: [], note: `schema: ${note}` });
  let tt: VerifyTable;
  try {
    tt = await describeTable(there.db, th.name, th.keyCols);
  } catch (e) {
    return bad(`${(e as Error).message} in ${there.dc}`);
  }
  const a = [...th.columns].sort().join(',');
  const b = [...tt.columns].sort().join(',');
  if (a !== b) return bad(`columns differ (${a} here, ${b} in ${there.dc})`);
  // both sides hash the columns in this DC's order and read keys as this DC's types
  return { ...tt, columns: th.columns, keyTypes: th.keyTypes };
}

/** The report for people: one line per table and peer, then the keys that differ. */
export function formatReport(r: VerifyReport): string {
  const lines = [`verify ${r.dc} against ${r.peers.join(', ') || '(no peers)'}: ${r.equal && !r.undecided ? 'EQUAL' : r.equal ? 'UNDECIDED' : 'DIFFERENT'}`];
  for (const t of r.tables) {
    const head = `  ${t.table} vs ${t.peer}: `;
    if (t.note?.startsWith('schema')) {
      lines.push(head + t.note);
      continue;
    }
    const counts = `${t.rowsHere} rows here, ${t.rowsThere} in ${t.peer}`;
    if (!t.differences.length && !t.unsettled.length && !t.note) lines.push(head + `equal (${counts})`);
    else lines.push(head + `${t.differences.length} key(s) differ (${counts}; ${t.rangesNarrowed} range(s) narrowed)`);
    for (const d of t.differences) lines.push(`    ${d.key}  ${d.here === null ? `missing in ${r.dc}` : d.there === null ? `missing in ${t.peer}` : 'values differ'}`);
    if (t.unsettled.length) lines.push(`    undecided (written again in every round; run verify again): ${t.unsettled.join(' ')}`);
    if (t.note) lines.push(`    ${t.note}`);
  }
  return lines.join('\n');
}
