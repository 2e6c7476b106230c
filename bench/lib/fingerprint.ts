// Are two DCs identical? Row counts and an md5 over every row in key order, per table.
import { quoteIdent, quoteQualified, sql } from './db';

export type Fingerprint = Record<string, { rows: number; md5: string }>;

export async function fingerprint(url: string, tables: Record<string, string[]>): Promise<Fingerprint> {
  const out: Fingerprint = {};
  for (const [table, key] of Object.entries(tables)) {
    const order = key.map((k) => `t.${quoteIdent(k)}`).join(', ');
    // md5 per row first: the aggregated text stays 32 bytes a row however wide the rows are
    const r = await sql<{ n: string; h: string | null }>(url, `select count(*) as n, md5(string_agg(md5(t::text), '' order by ${order})) as h from ${quoteQualified(table)} t`);
    out[table] = { rows: Number(r[0].n), md5: r[0].h ?? '' };
  }
  return out;
}

/** The tables whose fingerprints differ between a and b (empty when identical). */
export function differences(a: Fingerprint, b: Fingerprint): string[] {
  return Object.keys(a).filter((t) => !b[t] || a[t].rows !== b[t].rows || a[t].md5 !== b[t].md5);
}

/** Fingerprints every URL at once; returns the tables that differ from the first, per URL. */
export async function compareAll(urls: string[], tables: Record<string, string[]>): Promise<{ identical: boolean; differ: Record<string, string[]>; rows: Record<string, number> }> {
  const fps = await Promise.all(urls.map((u) => fingerprint(u, tables)));
  const differ: Record<string, string[]> = {};
  urls.slice(1).forEach((u, i) => {
    const d = differences(fps[0], fps[i + 1]);
    if (d.length) differ[u.replace(/\/\/[^@]*@/, '//')] = d;
  });
  const rows = Object.fromEntries(Object.entries(fps[0]).map(([t, f]) => [t, f.rows]));
  return { identical: Object.keys(differ).length === 0, differ, rows };
}
