// PostgreSQL's own logical replication between the two clusters of bench/native-pair.sh: a
// publication of the pgbench tables and a subscription that does not copy (both sides start from
// the same pgbench -i rows) and is created disabled, so that the backlog builds up in the
// publisher's slot while the load runs.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ClientConfig } from 'pg';
import { createDatabase, dropDatabase, execFormatted, quoteQualified, sql, uniq } from './db';
import { readEnvFile, ROOT } from './paths';
import { initPgbench, PGBENCH_TABLES, PROBE_TABLE } from './pgbench';

const run = promisify(execFile);
const SCRIPT = path.join(ROOT, 'bench', 'native-pair.sh');

export interface NativePair {
  pubUrl: string;
  subUrl: string;
  /** The superuser on the trusted local socket: creating a subscription needs it. */
  pubAdmin: ClientConfig;
  subAdmin: ClientConfig;
  subscription: string;
  slotConninfo: string;
  drop(): Promise<void>;
}

export async function nativePairUp(): Promise<void> {
  await run('bash', [SCRIPT, 'up'], { cwd: ROOT });
}

export async function nativePairDown(): Promise<void> {
  await run('bash', [SCRIPT, 'down'], { cwd: ROOT });
}

/** A fresh database on both clusters with the pgbench rows, published and subscribed (disabled). */
export async function nativeDatabases(scale: number): Promise<NativePair> {
  const env = readEnvFile(path.join(ROOT, '.ferry', 'native-pair.env'));
  if (!env.FERRY_NATIVE_PUB_URL) throw new Error('the native pair is not running (bash bench/native-pair.sh up)');
  const name = uniq('bench_');
  const pubUrl = await createDatabase(env.FERRY_NATIVE_PUB_URL, name);
  const subUrl = await createDatabase(env.FERRY_NATIVE_SUB_URL, name);
  const admin = (port: string): ClientConfig => ({ host: env.FERRY_NATIVE_SOCKET, port: Number(port), user: 'postgres', database: name });
  const pubAdmin = admin(env.FERRY_NATIVE_PUB_PORT);
  const subAdmin = admin(env.FERRY_NATIVE_SUB_PORT);
  const subscription = name; // also the slot's name on the publisher
  const pair: NativePair = {
    pubUrl,
    subUrl,
    pubAdmin,
    subAdmin,
    subscription,
    slotConninfo: `host=${env.FERRY_NATIVE_SOCKET} port=${env.FERRY_NATIVE_PUB_PORT} user=postgres dbname=${name}`,
    drop: async () => {
      // dropping the subscription drops its slot on the publisher, which would otherwise keep WAL
      await execFormatted(subAdmin, 'alter subscription %I disable', [subscription]).catch(() => undefined);
      await execFormatted(subAdmin, 'drop subscription if exists %I', [subscription]).catch(() => undefined);
      await dropDatabase(subUrl).catch(() => undefined);
      await sql(pubAdmin, 'select pg_drop_replication_slot(slot_name) from pg_replication_slots where slot_name = $1', [subscription]).catch(() => undefined);
      await dropDatabase(pubUrl).catch(() => undefined);
    },
  };
  try {
    const wal = await sql<{ wal_level: string }>(pubAdmin, 'show wal_level');
    if (wal[0].wal_level !== 'logical') throw new Error(`the native publisher runs with wal_level=${wal[0].wal_level}; restart it (bash bench/native-pair.sh down && … up)`);
    await Promise.all([initPgbench(pubUrl, scale), initPgbench(subUrl, scale)]);
    // the same tables Ferry tracks: the pgbench ones and the probe table that carries the marker
    await sql(pubUrl, `create publication bench for table ${[...PGBENCH_TABLES, PROBE_TABLE].map(quoteQualified).join(', ')}`);
    // the slot is created now, before the load: everything the load writes is decoded later
    await execFormatted(subAdmin, 'create subscription %I connection %L publication bench with (copy_data = false, enabled = false)', [subscription, pair.slotConninfo]);
  } catch (e) {
    await pair.drop();
    throw e;
  }
  return pair;
}
