// pgbench's TPC-B-like load, the headline workload of issue 9: every transaction updates one row
// of pgbench_accounts, pgbench_tellers and pgbench_branches and inserts one into pgbench_history
// (4 changes).
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { promisify } from 'node:util';
import { sql } from './db';

const run = promisify(execFile);

export const PGBENCH_TABLES = ['public.pgbench_accounts', 'public.pgbench_branches', 'public.pgbench_tellers', 'public.pgbench_history'] as const;
/** The probe table: one row per timing sample (latency, lag) and the end-of-load marker. */
export const PROBE_TABLE = 'public.bench_probe';
export const CHANGES_PER_TX = 4;

/** Each table with the columns of its primary key, for ordered fingerprints. */
export const TABLE_KEYS: Record<string, string[]> = {
  'public.pgbench_accounts': ['aid'],
  'public.pgbench_branches': ['bid'],
  'public.pgbench_tellers': ['tid'],
  'public.pgbench_history': ['hid'],
};

/** A PostgreSQL client program of the newest installed version (the servers' own), else from PATH. */
export function pgBin(name: 'pgbench' | 'pg_dump' | 'psql'): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) if (existsSync(`${root}/${v}/bin/${name}`)) return `${root}/${v}/bin/${name}`;
  return name;
}

export function pgbenchBin(): string {
  return pgBin('pgbench');
}

export async function pgbenchVersion(): Promise<string> {
  return (await run(pgbenchBin(), ['--version'])).stdout.trim();
}

/**
 * pgbench -i at `scale` (deterministic: every database initialised this way holds the same rows),
 * plus the primary key Ferry needs on pgbench_history and the probe table.
 */
export async function initPgbench(url: string, scale: number): Promise<void> {
  await run(pgbenchBin(), ['-i', '-q', '-s', String(scale), url], { maxBuffer: 16 << 20 });
  await sql(url, 'alter table public.pgbench_history add column hid bigserial primary key');
  await sql(url, 'create table public.bench_probe (id bigint primary key, at timestamptz not null default clock_timestamp())');
}

export interface PgbenchResult {
  tps: number;
  transactions: number;
  seconds: number;
  changes: number;
}

/**
 * Runs the TPC-B-like script against url. `load` is either { transactions } per client or
 * { seconds } (and optionally { rate } in transactions/s, paced by pgbench itself).
 */
export function runPgbench(url: string, clients: number, load: { transactions?: number; seconds?: number; rate?: number }): Promise<PgbenchResult> {
  const args = ['-n', '-c', String(clients), '-j', String(Math.min(2, clients))];
  if (load.transactions) args.push('-t', String(load.transactions));
  if (load.seconds) args.push('-T', String(load.seconds));
  if (load.rate) args.push('-R', String(load.rate));
  args.push(url);
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(pgbenchBin(), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      const tps = /tps = ([\d.]+)/.exec(out);
      const done = /number of transactions actually processed: (\d+)/.exec(out);
      if (code !== 0 || !tps || !done) return reject(new Error(`pgbench ${args.slice(0, -1).join(' ')} failed (exit ${code}):\n${out.slice(-2000)}`));
      const transactions = Number(done[1]);
      resolve({ tps: Number(tps[1]), transactions, seconds: (Date.now() - t0) / 1000, changes: transactions * CHANGES_PER_TX });
    });
  });
}
