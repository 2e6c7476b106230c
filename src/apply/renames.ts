import type { Change } from '../protocol/envelope';
import { renameMembers } from '../protocol/json-scan';
import type { TableCatalog } from './table-info';

/**
 * Application DDL rolled out DC by DC (docs/operations.md). Changes made before a column was renamed
 * name it as it was: once the same rename is done here, they are read under the column's name here
 * (TableInfo.renamed), whichever DC renamed first. A column dropped here is left out of changes
 * made where it still exists (TableInfo.dropped), so a drop needs no order either.
 */
export async function underNamesHere(catalog: TableCatalog, changes: Change[]): Promise<Change[]> {
  const out: Change[] = [];
  for (const c of changes) {
    if (c.op === 'T') {
      out.push(c);
      continue;
    }
    const t = await catalog.get(c.table, { pos: c.pos });
    if (!t.renamed.size && !t.dropped.size) {
      out.push(c);
      continue;
    }
    const names = new Map<string, string | null>([...t.renamed, ...[...t.dropped].map((d): [string, null] => [d, null])]);
    out.push(renamed(c, names));
  }
  return out;
}

function renamed(c: Change, names: Map<string, string | null>): Change {
  const keys = <T>(o: Record<string, T>) => {
    const out: Record<string, T> = {};
    for (const [k, v] of Object.entries(o)) {
      const n = names.has(k) ? names.get(k) : k;
      if (n) out[n] = v;
    }
    return out;
  };
  return {
    ...c,
    key: c.key && renameMembers(c.key, names),
    row: c.row && renameMembers(c.row, names),
    old: c.old && renameMembers(c.old, names),
    ...(c.jsonText ? { jsonText: keys(c.jsonText) } : {}),
    ...(c.counters ? { counters: keys(c.counters) } : {}),
  };
}
