// Read-your-writes across DCs (DESIGN.md §7): a write in dc-a takes ferry.token(); dc-b's
// ferry.wait_for(token) returns once that write is applied there, so the row is read there every
// time. The same through `ferry wait` and GET /wait, a clear answer on a timeout, and the version
// vector in `ferry status`.
import { Server } from 'node:http';
import { Client, Pool } from 'pg';
import { createLogger } from '../../src/common/logger';
import { startHttp } from '../../src/server/http';
import { sql } from '../support/db';
import { createMesh, Mesh } from '../support/mesh';

const TRIES = Number(process.env.FERRY_WAIT_TRIES ?? 1000);

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

describe('read your writes', () => {
  let mesh: Mesh;
  let a: Client;
  let b: Client;
  beforeAll(async () => {
    mesh = await createMesh('kafka', `create table public.notes (id int primary key, body text not null)`, ['public.notes'], ['a', 'b']);
    for (const dc of mesh.dcs) mesh.start(dc);
    a = new Client({ connectionString: mesh.url['dc-a'] });
    b = new Client({ connectionString: mesh.url['dc-b'] });
    await a.connect();
    await b.connect();
  });
  afterAll(async () => {
    await a?.end();
    await b?.end();
    await mesh?.close();
  });

  /** One write in dc-a, in its own transaction, with its token. */
  async function write(id: number): Promise<string> {
    await a.query('begin');
    await a.query('insert into notes values ($1, $2)', [id, `note ${id}`]);
    const token = (await a.query<{ t: string }>('select ferry.token() as t')).rows[0].t;
    await a.query('commit');
    return token;
  }

  it(`write in dc-a, ferry.wait_for in dc-b, read the row there: found every time (${TRIES} tries)`, async () => {
    const waited: number[] = [];
    const missing: number[] = [];
    for (let i = 1; i <= TRIES; i++) {
      const token = await write(i);
      const t0 = process.hrtime.bigint();
      const ok = (await b.query<{ ok: boolean }>('select ferry.wait_for($1, 10000) as ok', [token])).rows[0].ok;
      waited.push(Number(process.hrtime.bigint() - t0) / 1e6);
      const found = (await b.query('select 1 from notes where id = $1', [i])).rowCount;
      if (!ok || found !== 1) missing.push(i);
    }
    const p50 = pct(waited, 50);
    const p99 = pct(waited, 99);
    process.stdout.write(`read-your-writes over ${TRIES} tries: wait after commit p50 ${p50.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...waited).toFixed(1)} ms\n`);
    expect(missing).toEqual([]);
  }, 600_000);

  it('ferry wait and GET /wait answer the same; a token of dc-b is dc-b\'s own; a bad token is refused', async () => {
    const token = await write(100_001);
    const cli = await mesh.cli('dc-b', ['wait', '--token', token, '--timeout-ms', '10000', '--json']);
    expect({ code: cli.code, applied: (JSON.parse(cli.stdout) as { applied: boolean }).applied }).toEqual({ code: 0, applied: true });
    expect((await b.query('select 1 from notes where id = 100001')).rowCount).toBe(1);

    const pool = new Pool({ connectionString: mesh.url['dc-b'], max: 2 });
    const server: Server = await startHttp({ ...mesh.cfg['dc-b'], http: { ...mesh.cfg['dc-b'].http, port: 0 } }, pool, createLogger('silent'));
    try {
      const port = (server.address() as { port: number }).port;
      const t2 = await write(100_002);
      const r = await fetch(`http://127.0.0.1:${port}/wait?token=${encodeURIComponent(t2)}&timeoutMs=10000`);
      expect({ status: r.status, applied: ((await r.json()) as { applied: boolean }).applied }).toEqual({ status: 200, applied: true });
      expect((await b.query('select 1 from notes where id = 100002')).rowCount).toBe(1);
      const bad = await fetch(`http://127.0.0.1:${port}/wait?token=nonsense`);
      expect(bad.status).toBe(400);
    } finally {
      server.close();
      await pool.end();
    }
    const own = (await b.query<{ t: string }>('select ferry.token() as t')).rows[0].t;
    expect((await b.query('select ferry.wait_for($1, 0) as ok', [own])).rows[0]).toEqual({ ok: true });
    await expect(b.query(`select ferry.wait_for('dc-a', 10)`)).rejects.toThrow(/is not a read-your-writes token/);
  }, 120_000);

  it('a write not applied in time: false with the reason, exit 1; status shows the version vector', async () => {
    const status = await mesh.cli('dc-b', ['status', '--json']);
    const vector = (JSON.parse(status.stdout) as { vector: Record<string, number> }).vector;
    expect(Object.keys(vector).sort()).toEqual(['dc-a', 'dc-b']);
    expect(vector['dc-a']).toBeGreaterThanOrEqual(TRIES);
    expect((await mesh.cli('dc-b', ['status'])).stdout).toMatch(/version vector \(position per origin\): .*dc-a \d+/);

    await mesh.stop('dc-a'); // nothing of dc-a is published any more
    const token = await write(100_003);
    const notices: string[] = [];
    b.on('notice', (n) => notices.push(n.message ?? ''));
    expect((await b.query('select ferry.wait_for($1, 300) as ok', [token])).rows[0]).toEqual({ ok: false });
    expect(notices.join('\n')).toMatch(/not applied within 300 ms: this DC \(dc-b\) has applied dc-a up to position \d+/);
    const cli = await mesh.cli('dc-b', ['wait', '--token', token, '--timeout-ms', '300']);
    expect({ code: cli.code, out: cli.stdout }).toEqual({ code: 1, out: expect.stringMatching(/NOT applied in dc-b: not applied within 300 ms/) });
    // dc-a runs again: the write arrives, and the same token is answered
    mesh.start('dc-a');
    expect((await b.query('select ferry.wait_for($1, 30000) as ok', [token])).rows[0]).toEqual({ ok: true });
    expect(await sql(mesh.url['dc-b'], 'select body from notes where id = 100003')).toEqual([{ body: 'note 100003' }]);
  }, 120_000);
});
