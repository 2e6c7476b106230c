/**
 * Orders tables so that a referenced (parent) table comes before the tables that reference it:
 * rows are upserted in this order and deleted in the reverse one, so foreign keys that are checked
 * at the end of each statement always find their parent. null when the references among these
 * tables form a cycle (a table referencing itself is no cycle: one statement writes all its rows,
 * and PostgreSQL checks the references after the statement).
 */
export function parentsFirst(tables: string[], parentsOf: (t: string) => string[]): string[] | null {
  const set = new Set(tables);
  const state = new Map<string, 'visiting' | 'done'>();
  const out: string[] = [];
  const visit = (t: string): boolean => {
    const s = state.get(t);
    if (s === 'done') return true;
    if (s === 'visiting') return false;
    state.set(t, 'visiting');
    for (const p of parentsOf(t)) if (p !== t && set.has(p) && !visit(p)) return false;
    state.set(t, 'done');
    out.push(t);
    return true;
  };
  for (const t of tables) if (!visit(t)) return null;
  return out;
}
