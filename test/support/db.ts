import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { services } from './services';

export type Dc = 'a' | 'b' | 'c';
const VAR = { a: 'FERRY_DC_A_URL', b: 'FERRY_DC_B_URL', c: 'FERRY_DC_C_URL' } as const;

export const uniq = (prefix = 't') => `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;

/** A new, empty database in DC `dc` for one test file: isolated, dropped by dropDatabase. */
export async function freshDatabase(dc: Dc, name = uniq('ferry_t')): Promise<string> {
  const base = services()[VAR[dc]];
  const admin = new Client({ connectionString: base });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(base);
  u.pathname = `/${name}`;
  return u.toString();
}

export async function dropDatabase(url: string): Promise<void> {
  const u = new URL(url);
  const name = decodeURIComponent(u.pathname.slice(1));
  u.pathname = '/ferry';
  const admin = new Client({ connectionString: u.toString() });
  await admin.connect();
  try {
    try {
      await admin.query(`drop database if exists "${name}" with (force)`);
    } catch (e) {
      // FORCE refuses to end a session that is not this role's, and an autovacuum worker busy in the
      // database counts as one (42501). A plain DROP tells autovacuum to stop and waits for it, and
      // still fails loudly if a real session of another role is left.
      if ((e as { code?: string }).code !== '42501') throw e;
      await admin.query(`drop database if exists "${name}"`);
    }
  } finally {
    await admin.end();
  }
}

export async function sql<T extends Record<string, unknown> = Record<string, unknown>>(url: string, text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

/** Runs fn with a connection to url (to call Ferry's own table operations in src/tables/). */
export async function withClient<T>(url: string, fn: (c: Client) => Promise<T>): Promise<T> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
