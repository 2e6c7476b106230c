// Databases for one benchmark run: created fresh in a cluster, dropped afterwards.
import { randomBytes } from 'node:crypto';
import { Client, ClientConfig } from 'pg';

export const uniq = (prefix: string) => `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

export const quoteIdent = (name: string) => `"${name.replace(/"/g, '""')}"`;

/** "schema.table" → "schema"."table" (the names the benchmarks use have no dots of their own). */
export const quoteQualified = (name: string) => name.split('.').map(quoteIdent).join('.');

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(name)}`;
  return u.toString();
}

export function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.slice(1));
}

/** Creates database `name` in the cluster of `baseUrl` (as its role) and returns its URL. */
export async function createDatabase(baseUrl: string, name: string): Promise<string> {
  await withClient(baseUrl, (c) => c.query(`create database ${quoteIdent(name)}`));
  return withDatabase(baseUrl, name);
}

export async function dropDatabase(url: string): Promise<void> {
  const name = databaseName(url);
  await withClient(withDatabase(url, 'postgres'), (c) => c.query(`drop database if exists ${quoteIdent(name)} with (force)`));
}

export async function withClient<T>(conn: string | ClientConfig, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client(typeof conn === 'string' ? { connectionString: conn } : conn);
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

export async function sql<T extends Record<string, unknown> = Record<string, unknown>>(conn: string | ClientConfig, text: string, params: unknown[] = []): Promise<T[]> {
  return withClient(conn, async (c) => (await c.query<T>(text, params)).rows);
}

/** A client that stays connected for a run (pollers, writers): one connection, as an application holds. */
export async function heldClient(conn: string | ClientConfig): Promise<Client> {
  const c = new Client(typeof conn === 'string' ? { connectionString: conn } : conn);
  await c.connect();
  return c;
}

/**
 * Runs a statement that cannot take parameters (DDL): PostgreSQL's format() builds it from the
 * template, %I for identifiers and %L for values, and the result is executed.
 */
export async function execFormatted(conn: string | ClientConfig, template: string, args: string[]): Promise<void> {
  await withClient(conn, async (c) => {
    const ps = args.map((_, i) => `$${i + 2}::text`).join(', ');
    const r = await c.query<{ stmt: string }>(`select format($1::text${ps ? ', ' + ps : ''}) as stmt`, [template, ...args]);
    await c.query(r.rows[0].stmt);
  });
}
