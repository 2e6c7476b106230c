import { createHash } from 'node:crypto';
import { Client, ClientConfig, Pool, PoolConfig, QueryConfig, types } from 'pg';
import { parseExact } from '../protocol/json';
import { ServiceError } from './errors';
import { safeUrl } from './logger';

const JSONB_OID = 3802;
const JSON_OID = 114;

/** jsonb and json columns are parsed without losing digits (see protocol/json.ts). */
const exactTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === JSONB_OID || oid === JSON_OID) return (v: string) => parseExact(v);
    return types.getTypeParser(oid, format as 'text');
  },
};

/**
 * Session settings Ferry relies on, whatever the database or role defaults say:
 * - READ COMMITTED: ferry.tick and ferry.prune read the sequence and wait on locks, then need a
 *   fresh snapshot per statement; under REPEATABLE READ prune could empty unpublished changes.
 * - TCP keepalives on the server side: a leader whose host vanished without a reset must lose its
 *   advisory lock in seconds, not after the kernel's two hours, so a standby can take over.
 * - The output settings capture pins (floats, intervals, money): the applier writes values in the
 *   same forms it reads them, whatever the database or role defaults say.
 */
const SESSION_OPTIONS =
  '-c default_transaction_isolation=read\\ committed -c tcp_keepalives_idle=10 -c tcp_keepalives_interval=5 -c tcp_keepalives_count=3' +
  ' -c extra_float_digits=3 -c intervalstyle=postgres -c lc_monetary=C';

export function createPool(connectionString: string, opts: Partial<PoolConfig> = {}): Pool {
  const pool = new Pool({ connectionString, types: exactTypes as PoolConfig['types'], max: 4, options: SESSION_OPTIONS, keepAlive: true, ...opts });
  // a client that loses its connection (idle, or checked out) must not crash the process: the
  // query in flight fails with a retriable error and the next one reconnects
  pool.on('error', () => undefined);
  pool.on('connect', (c) => c.on('error', () => undefined));
  return pool;
}

export async function connect(connectionString: string, opts: Partial<ClientConfig> = {}): Promise<Client> {
  const c = new Client({ connectionString, types: exactTypes as ClientConfig['types'], options: SESSION_OPTIONS, keepAlive: true, ...opts });
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

const statementNames = new Map<string, string>();

/**
 * A statement PostgreSQL parses once per session and, once it finds a plan that fits every
 * execution, plans once too (a named prepared statement, named by its text). For the statements on
 * the way of every apply group, whose planning cost more than their execution; only for statements
 * whose plan does not depend on how many rows their arrays bring (index look-ups row by row).
 */
export function prepared(text: string, values: unknown[]): QueryConfig {
  let name = statementNames.get(text);
  if (!name) {
    name = 'ferry_' + createHash('sha1').update(text).digest('hex').slice(0, 24);
    // the texts are per table and column set: a bounded set, but never let it grow without end
    if (statementNames.size >= 10_000) statementNames.clear();
    statementNames.set(text, name);
  }
  return { name, text, values };
}

/**
 * Why this DC's database did not take a connection, in one line that names the key and the fix
 * (the URL shown without its password).
 */
export function databaseError(e: unknown, url: string): ServiceError {
  const err = e as { code?: string; message?: string };
  const where = `this DC's database (key database: ${safeUrl(url)})`;
  const why: Record<string, string> = {
    ECONNREFUSED: 'nothing listens there: start PostgreSQL, or correct the host and port',
    ENOTFOUND: 'the host name does not resolve: correct the host',
    EAI_AGAIN: 'the host name does not resolve: correct the host',
    ETIMEDOUT: 'the host does not answer: check the host, the port and the network in between',
    EHOSTUNREACH: 'the host cannot be reached: check the host and the network in between',
    '28P01': 'the password is wrong: correct it in the URL (or FERRY_DATABASE)',
    '28000': 'the server refuses this role from here: check the user name and pg_hba.conf',
    '3D000': 'no database of that name: create it, or correct the name in the URL',
  };
  const fix = (err.code && why[err.code]) ?? `${err.message ?? String(e)}: check the URL`;
  return new ServiceError(`cannot connect to ${where}: ${fix}`, { cause: e, retriable: ['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'EAI_AGAIN'].includes(err.code ?? '') });
}
