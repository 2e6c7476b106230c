import type { FerryConfig } from '../config/schema';
import { FerryError } from '../common/errors';
import type { VerifyReport } from './verify';
import { closeSides, openSides } from './verify';
import { deleteRowsByKey, describeTable, rewritableColumn, rewriteRows } from './table-sql';
import { trackedTables } from '../tables/tracked';

export interface RepairReport {
  from: string;
  tables: { table: string; rewritten: string[]; deleted: Record<string, string[]> }[];
}

/**
 * `ferry verify --repair --from DC`: the rows that differ take the chosen DC's state everywhere, by
 * writing it again as a captured change, which gets a newer version than anything the rows hold
 * and so wins in every DC by the one merge rule (DESIGN.md §6):
 *  - a row the chosen DC has is rewritten there as it is (an UPDATE setting a column to itself);
 *  - a row the chosen DC does not have is deleted in every DC that has it (a tombstone).
 * Nothing is written behind the stream: every DC gets the repair through it.
 */
export async function repair(cfg: FerryConfig, report: VerifyReport, from: string): Promise<RepairReport> {
  const dcs = [cfg.origin, ...report.peers];
  if (!dcs.includes(from)) throw new FerryError(`--from ${from} is neither this DC (${cfg.origin}) nor a peer verified (${report.peers.join(', ')})`);
  const byTable = new Map<string, Set<string>>();
  for (const t of report.tables) for (const d of t.differences) (byTable.get(t.table) ?? byTable.set(t.table, new Set()).get(t.table)!).add(d.key);
  const out: RepairReport = { from, tables: [] };
  if (!byTable.size) return out;
  const sides = await openSides(cfg, report.peers);
  try {
    const chosen = sides.find((s) => s.dc === from)!;
    const tracked = await trackedTables(chosen.db);
    for (const [table, set] of byTable) {
      const keyCols = tracked.find((t) => t.name === table)?.keyCols;
      if (!keyCols) throw new FerryError(`${table} is not tracked in ${from}: its rows cannot be re-sent from there`);
      const keys = [...set];
      const t = await describeTable(chosen.db, table, keyCols);
      const rewritten = await rewriteRows(chosen.db, t, await rewritableColumn(chosen.db, t), keys);
      const gone = keys.filter((k) => !rewritten.includes(k));
      const deleted: Record<string, string[]> = {};
      if (gone.length) {
        for (const s of sides) {
          if (s === chosen) continue;
          const d = await deleteRowsByKey(s.db, await describeTable(s.db, table, keyCols), gone);
          if (d.length) deleted[s.dc] = d;
        }
      }
      out.tables.push({ table, rewritten, deleted });
    }
    return out;
  } finally {
    await closeSides(sides);
  }
}

export function formatRepair(r: RepairReport): string {
  if (!r.tables.length) return 'nothing to repair';
  const lines = [`repaired from ${r.from} (the changes travel the stream; run ferry verify again once it has drained):`];
  for (const t of r.tables) {
    if (t.rewritten.length) lines.push(`  ${t.table}: re-sent ${t.rewritten.join(' ')} from ${r.from}`);
    for (const [dc, keys] of Object.entries(t.deleted)) lines.push(`  ${t.table}: deleted ${keys.join(' ')} in ${dc} (absent in ${r.from})`);
  }
  return lines.join('\n');
}
