// Faults under load (issue 11): writers in dc-a and dc-b for FERRY_CHAOS_MS, `ferry run` in three
// DCs killed with SIGKILL at random moments (FERRY_CHAOS_KILLS times) and restarted as a supervisor
// would, the transport's server failing (the Kafka broker restarted; the SQS server not answering
// for FERRY_DOWN_S seconds) and dc-c's PostgreSQL restarted. Afterwards every DC holds every committed row once:
// nothing lost, nothing doubled, all identical. `make test` runs a short variant; `make chaos` the
// long one (FERRY_CHAOS_MS=300000 FERRY_CHAOS_KILLS=30 FERRY_DOWN_S=30).
import { execFile, ChildProcess } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { sql } from '../support/db';
import { createMesh, Mesh, tableRows } from '../support/mesh';
import type { TransportKind } from '../support/origin';

const MS = Number(process.env.FERRY_CHAOS_MS ?? 40_000);
const KILLS = Number(process.env.FERRY_CHAOS_KILLS ?? 8);
const DOWN_S = Number(process.env.FERRY_DOWN_S ?? 5);
const ROOT = path.resolve(__dirname, '..', '..');
const run = promisify(execFile);

const DDL = `
create table public.events (dc text not null, n int not null, v text not null, primary key (dc, n));
create table public.totals (dc text primary key, c int not null);`;

/** Stops and starts test services through the project's own script (FERRY_SERVICES etc. in env). */
async function services(verb: 'restart' | 'pause', env: Record<string, string>): Promise<void> {
  await run('bash', [path.join(ROOT, 'infra', 'services.sh'), verb], { env: { ...process.env, ...env }, timeout: 240_000 });
}

/** A writer: each transaction inserts the next event and counts it, until stopped; returns what committed. */
function writer(url: string, dc: string): { stop: () => Promise<number> } {
  let running = true;
  const done = (async () => {
    const c = new Client({ connectionString: url });
    await c.connect();
    let n = 0;
    try {
      await c.query(`insert into totals values ($1, 0) on conflict do nothing`, [dc]);
      while (running) {
        await c.query('begin');
        await c.query(`insert into events values ($1, $2, $3)`, [dc, n + 1, `${dc} event ${n + 1}`]);
        await c.query(`update totals set c = c + 1 where dc = $1`, [dc]);
        await c.query('commit');
        n++;
        if (n % 20 === 0) await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await c.end();
    }
    return n;
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

/** Keeps one `ferry run` per DC alive, as Kubernetes would; kills one now and then with SIGKILL. */
class Supervisor {
  kills = 0;
  restarts = 0;
  private readonly procs = new Map<string, ChildProcess>();
  private stopped = false;

  constructor(private readonly mesh: Mesh) {}

  start(dc: string): void {
    const child = this.mesh.spawn(dc, 'run', { FERRY_LOG_LEVEL: 'fatal' }); // the faults make every part complain
    this.procs.set(dc, child);
    child.once('exit', () => {
      if (this.stopped || this.procs.get(dc) !== child) return;
      this.restarts++;
      setTimeout(() => !this.stopped && this.start(dc), 500);
    });
  }

  kill(dc: string): void {
    const child = this.procs.get(dc);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.kills++;
    child.kill('SIGKILL'); // the exit handler starts it again
  }

  stop(): void {
    this.stopped = true;
    for (const c of this.procs.values()) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
  }
}

describe.each<TransportKind>(['kafka', 'sqs'])('faults under load over %s', (kind) => {
  let mesh: Mesh;
  let sup: Supervisor | undefined;
  afterEach(async () => {
    sup?.stop();
    await mesh?.close();
  });

  it('kill -9 of ferry run again and again, the transport server and a destination PostgreSQL restarted: every committed row arrives once in every DC', async () => {
    mesh = await createMesh(kind, DDL, ['public.events', 'public.totals']);
    sup = new Supervisor(mesh);
    for (const dc of mesh.dcs) sup.start(dc);
    const writers = { 'dc-a': writer(mesh.url['dc-a'], 'dc-a'), 'dc-b': writer(mesh.url['dc-b'], 'dc-b') };
    const t0 = Date.now();
    const faults: string[] = [];
    // the service faults at a third and two thirds of the run, the kills spread over all of it
    const serviceFaults = (async () => {
      await new Promise((r) => setTimeout(r, MS / 3));
      // the Kafka broker keeps its log on disk: restarted; the SQS server keeps its queues in memory
      // (a restart would lose what SQS never loses): it stops answering instead
      if (kind === 'kafka') await services('restart', { FERRY_SERVICES: 'kafka' });
      else await services('pause', { FERRY_SERVICES: 'sqs', FERRY_DOWN_S: String(DOWN_S) });
      faults.push(kind === 'kafka' ? `kafka broker restarted at ${Math.round((Date.now() - t0) / 1000)} s` : `SQS server not answering for ${DOWN_S} s until ${Math.round((Date.now() - t0) / 1000)} s`);
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + (2 * MS) / 3 - Date.now())));
      await services('restart', { FERRY_SERVICES: 'pg', FERRY_PG_ONLY: 'dc-c' });
      faults.push(`dc-c PostgreSQL restarted at ${Math.round((Date.now() - t0) / 1000)} s`);
    })();
    for (let k = 0; k < KILLS; k++) {
      await new Promise((r) => setTimeout(r, (MS / KILLS) * (0.5 + Math.random())));
      sup.kill(mesh.dcs[Math.floor(Math.random() * mesh.dcs.length)]);
    }
    await serviceFaults;
    const committed = { 'dc-a': await writers['dc-a'].stop(), 'dc-b': await writers['dc-b'].stop() };
    await mesh.drained(300_000);
    sup.stop();

    const expected = [
      { dc: 'dc-a', n: String(committed['dc-a']), distinct: String(committed['dc-a']), max: committed['dc-a'] },
      { dc: 'dc-b', n: String(committed['dc-b']), distinct: String(committed['dc-b']), max: committed['dc-b'] },
    ];
    for (const dc of mesh.dcs) {
      const got = await sql(mesh.url[dc], `select dc, count(*) as n, count(distinct n) as distinct, max(n) as max from events group by dc order by dc`);
      expect({ dc, got }).toEqual({ dc, got: expected });
      expect({ dc, totals: await sql(mesh.url[dc], `select dc, c from totals order by dc`) }).toEqual({ dc, totals: [{ dc: 'dc-a', c: committed['dc-a'] }, { dc: 'dc-b', c: committed['dc-b'] }] });
      expect(await sql(mesh.url[dc], `select origin, error from ferry.applied where status <> 'running'`)).toEqual([]);
    }
    const a = await tableRows(mesh.url['dc-a'], 'events', 'dc, n');
    for (const dc of ['dc-b', 'dc-c']) expect((await tableRows(mesh.url[dc], 'events', 'dc, n')).length).toBe(a.length);
    expect(sup.kills).toBeGreaterThanOrEqual(Math.min(KILLS, 1));
    process.stdout.write(
      `chaos over ${kind}: ${MS / 1000} s, rows committed dc-a ${committed['dc-a']} dc-b ${committed['dc-b']}; kill -9 ${sup.kills}, restarts ${sup.restarts}; ${faults.join('; ')}; lost 0, doubled 0 in every DC\n`,
    );
  }, MS + 600_000);
});
