import { Client, ClientConfig, Pool, PoolConfig, types } from 'pg';
import { parseExact } from '../protocol/json';

const JSONB_OID = 3802;
const JSON_OID = 114;

/** jsonb and json columns are parsed without losing digits (see protocol/json.ts). */
const exactTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === JSONB_OID || oid === JSON_OID) return (v: string) => parseExact(v);
    return types.getTypeParser(oid, format as 'text');
  },
};

export function createPool(connectionString: string, opts: Partial<PoolConfig> = {}): Pool {
  const pool = new Pool({ connectionString, types: exactTypes as PoolConfig['types'], max: 4, ...opts });
  // an idle client that loses its connection must not crash the process; the next query reconnects
  pool.on('error', () => undefined);
  return pool;
}

export async function connect(connectionString: string, opts: Partial<ClientConfig> = {}): Promise<Client> {
  const c = new Client({ connectionString, types: exactTypes as ClientConfig['types'], ...opts });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

export type Queryable = Pick<Client, 'query'>;

/** Runs fn inside BEGIN/COMMIT on one client, rolling back on any error. */
export async function inTransaction<T>(client: Client | import('pg').PoolClient, fn: () => Promise<T>, begin = 'begin'): Promise<T> {
  await client.query(begin);
  try {
    const out = await fn();
    await client.query('commit');
    return out;
  } catch (e) {
    await client.query('rollback').catch(() => undefined);
    throw e;
  }
}

export const quoteIdent = (s: string) => '"' + s.replace(/"/g, '""') + '"';
