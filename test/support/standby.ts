import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, appendFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { services, ROOT } from './services';

/**
 * A physical standby of one DC's test cluster (all of its databases), as infra/lib/postgres.sh runs
 * the clusters: pg_basebackup over the cluster's socket as the superuser `postgres` (the server
 * refuses root), into a temporary folder, started on a free port. For the promotion of a standby at
 * an origin (docs/operations.md, "Restore, failover and lineage").
 */
export interface Standby {
  port: number;
  /** The URL of `database` (by name) on the standby, as the app role. */
  url(database: string): string;
  /** Starts it; `detached`: without a primary to stream from (what it has is all it gets). */
  start(opts?: { detached?: boolean }): void;
  stop(): void;
  promote(): void;
  remove(): void;
}

const VAR = { a: 'FERRY_DC_A_URL', b: 'FERRY_DC_B_URL', c: 'FERRY_DC_C_URL' } as const;

function pgBin(): string {
  const vs = readdirSync('/usr/lib/postgresql').filter((v) => existsSync(`/usr/lib/postgresql/${v}/bin/initdb`));
  if (!vs.length) throw new Error('no PostgreSQL server installed (/usr/lib/postgresql/*/bin/initdb): make services-up installs it');
  return `/usr/lib/postgresql/${vs.sort((a, b) => Number(a) - Number(b)).pop()}/bin`;
}

/** The socket folder of the local clusters (see pg_layout in infra/lib/postgres.sh). */
function socketDir(): string {
  const home = path.join(ROOT, '.ferry', 'pg-home');
  return existsSync(home) ? path.join(readFileSync(home, 'utf8').trim(), 'run') : path.join(ROOT, '.ferry', 'run', 'pg');
}

const asRoot = process.getuid?.() === 0;
/** Runs a server program as `postgres` when we are root (as as_pg does). */
function asPg(cmd: string, args: string[]): string {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  return execFileSync(file, argv, { encoding: 'utf8', cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

export async function makeStandby(dc: 'a' | 'b' | 'c'): Promise<Standby> {
  const bin = pgBin();
  const primary = new URL(services()[VAR[dc]]);
  const port = await freePort();
  const dir = mkdtempSync('/var/tmp/ferry-standby-');
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = path.join(dir, 'data');
  // -R: standby.signal and primary_conninfo (the primary's socket); -X stream: the WAL it needs
  asPg(`${bin}/pg_basebackup`, ['-D', data, '-R', '-X', 'stream', '-c', 'fast', '-h', socketDir(), '-p', primary.port, '-U', 'postgres']);
  // postgresql.auto.conf is read last: its own port and socket folder
  const conf = path.join(data, 'postgresql.auto.conf');
  appendFileSync(conf, `port = ${port}\nunix_socket_directories = '${dir}'\n`);
  if (asRoot) chownSync(conf, Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })), Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })));
  const log = path.join(dir, 'server.log');
  let running = false;
  return {
    port,
    url(database) {
      const u = new URL(primary.toString());
      u.port = String(port);
      u.pathname = `/${database}`;
      return u.toString();
    },
    start(opts = {}) {
      if (opts.detached) appendFileSync(conf, `primary_conninfo = ''\n`);
      asPg(`${bin}/pg_ctl`, ['start', '-D', data, '-l', log, '-w', '-t', '60']);
      running = true;
    },
    stop() {
      if (running) asPg(`${bin}/pg_ctl`, ['stop', '-D', data, '-m', 'fast', '-w', '-t', '60']);
      running = false;
    },
    promote() {
      asPg(`${bin}/pg_ctl`, ['promote', '-D', data, '-w', '-t', '60']);
    },
    remove() {
      try {
        if (running) asPg(`${bin}/pg_ctl`, ['stop', '-D', data, '-m', 'immediate', '-w']);
      } catch {
        // already down
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
