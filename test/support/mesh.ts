import { spawn, ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { FerryConfig } from '../../src/config/schema';
import { runSidecar } from '../../src/server/sidecar';
import { appliedPositions } from '../../src/tables/applied';
import { unpublishedCount } from '../../src/tables/changes';
import { forwardState } from '../../src/tables/ticks';
import { dropDatabase, freshDatabase, sql, uniq, withClient, Dc } from './db';
import { prepareOrigin, quietLog, testConfig, TransportKind, waitFor } from './origin';
import { ROOT } from './services';
import { testFile } from './files';

export interface Mesh {
  dcs: string[];
  url: Record<string, string>;
  cfg: Record<string, FerryConfig>;
  start(dc: string, parts?: { forward?: boolean; apply?: boolean }): void;
  stop(dc: string): Promise<void>;
  spawn(dc: string, command?: string, env?: Record<string, string>): ChildProcess;
  /** Writes dc's config to a file, as spawn does, and returns its path. */
  configFile(dc: string): string;
  /** Runs `ferry ARGS… --config FILE` for dc to completion (needs `npm run build`). */
  cli(dc: string, args: string[], env?: Record<string, string>): Promise<CliResult>;
  /** Waits until every DC has applied everything every other DC published. */
  drained(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Several DCs, each with its own database in its own PostgreSQL cluster, the same tables, all
 * tracked, each applying every other one, sharing one topic/queue prefix.
 */
export async function createMesh(kind: TransportKind, ddl: string, tables: string[], letters: Dc[] = ['a', 'b', 'c'], over: Record<string, unknown> = {}): Promise<Mesh> {
  const prefix = uniq('m');
  const dcs = letters.map((l) => `dc-${l}`);
  const url: Record<string, string> = {};
  const cfg: Record<string, FerryConfig> = {};
  for (const l of letters) {
    const dc = `dc-${l}`;
    url[dc] = await freshDatabase(l);
    await prepareOrigin(url[dc], ddl, tables, dc);
    cfg[dc] = testConfig(url[dc], kind, { peers: dcs.filter((d) => d !== dc), http: { port: 0 }, apply: { gapTimeoutMs: 5000 }, ...over }, dc, prefix);
  }
  const running = new Map<string, { ac: AbortController; done: Promise<void> }>();
  const children: ChildProcess[] = [];
  const mesh: Mesh = {
    dcs,
    url,
    cfg,
    start(dc, parts = {}) {
      const ac = new AbortController();
      const done = runSidecar(cfg[dc], quietLog.child({ dc }), ac.signal, { forward: parts.forward ?? true, apply: parts.apply ?? true, http: false });
      done.catch((e) => quietLog.error({ err: e, dc }, 'sidecar failed'));
      running.set(dc, { ac, done });
    },
    async stop(dc) {
      const r = running.get(dc);
      if (!r) return;
      r.ac.abort();
      await r.done.catch(() => undefined);
      running.delete(dc);
    },
    configFile(dc) {
      return testFile('cfg', 'json', JSON.stringify(cfg[dc]));
    },
    cli(dc, args, env = {}) {
      if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (make test does)');
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'ferry'), ...args, '--config', mesh.configFile(dc)], {
        env: { ...process.env, FERRY_LOG_LEVEL: 'warn', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      return new Promise<CliResult>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code) => resolve({ code, stdout, stderr }));
      });
    },
    spawn(dc, command = 'run', env = {}) {
      if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (make test does)');
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'ferry'), command, '--config', mesh.configFile(dc)], {
        env: { ...process.env, FERRY_LOG_LEVEL: 'warn', ...env },
        stdio: ['ignore', 'inherit', 'inherit'],
      });
      children.push(child);
      return child;
    },
    async drained(timeoutMs = 60000) {
      const state = async () => {
        const out: Record<string, unknown> = {};
        for (const dc of dcs) {
          out[dc] = {
            forward: await withClient(url[dc], forwardState),
            // who holds Ferry's advisory locks (1 = idle ticker, 2 = forwarder leader) and what the forwarder's sessions are doing
            sessions: await sql(url[dc], `select a.application_name as app, a.state, a.wait_event, left(a.query, 60) as query, (select string_agg(l.objid::text, ',') from pg_locks l where l.pid = a.pid and l.locktype = 'advisory' and l.granted) as locks
                                             from pg_stat_activity a where a.datname = current_database() and a.application_name like 'ferry-%'`),
            seq: (await sql(url[dc], `select last_value, is_called from ferry.change_id_seq`))[0],
            applied: await sql(url[dc], `select origin, pos, seen_pos, status, error from ferry.applied`),
            inbox: (await sql(url[dc], `select count(*) as n from ferry.inbox`))[0],
          };
        }
        return out;
      };
      try {
        await waitFor(
          async () => {
            const published: Record<string, number> = {};
            for (const dc of dcs) {
              const f = await withClient(url[dc], forwardState);
              if (f.pendingTicks > 0 || f.unticked > 0) return false;
              // a transaction open at the last tick that committed since is in no tick yet
              if ((await withClient(url[dc], unpublishedCount)) > 0) return false;
              published[dc] = f.publishedPos;
            }
            for (const dc of dcs) {
              const applied = await withClient(url[dc], appliedPositions);
              for (const o of dcs) if (o !== dc && (applied[o] ?? 0) < published[o]) return false;
            }
            return true;
          },
          timeoutMs,
          'every DC to apply everything',
        );
      } catch (e) {
        // say where it stuck: forwarding (ticks) or applying (positions), and in which DC
        throw new Error(`${(e as Error).message}; state: ${JSON.stringify(await state())}`);
      }
    },
    async close() {
      for (const dc of [...running.keys()]) await mesh.stop(dc);
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      for (const dc of dcs) await dropDatabase(url[dc]).catch(() => undefined);
    },
  };
  return mesh;
}

/** All rows of a table in key order, as text, for comparing DCs row by row. */
export async function tableRows(url: string, table: string, order: string): Promise<string[]> {
  const r = await sql<{ t: string }>(url, `select t::text as t from ${table} t order by ${order}`);
  return r.map((x) => x.t);
}
