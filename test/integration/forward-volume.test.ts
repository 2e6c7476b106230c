// Size limits and sustained load on the origin side.
import { dropDatabase, freshDatabase, sql, withClient } from '../support/db';
import { publishedPosition } from '../../src/tables/ticks';
import { byPos, expectDense, prepareOrigin, readBack, startForwarder, testConfig } from '../support/origin';

describe('large changes and sustained load', () => {
  let url: string;
  beforeEach(async () => {
    url = await freshDatabase('a');
    await prepareOrigin(url, `create table public.docs (id int primary key, body text, tags text[]); create table public.events (id bigint primary key, payload text);`, ['public.docs', 'public.events']);
  });
  afterEach(() => dropDatabase(url));

  it('a change larger than the SQS message limit arrives in ordered chunks and reassembles exactly', async () => {
    const cfg = testConfig(url, 'sqs');
    // 700 KB of text with multi-byte characters: far above one SQS message (256 KiB)
    const body = 'ä😀x'.repeat(100_000);
    await sql(url, `insert into docs values (1, 'small before', null)`);
    await sql(url, `insert into docs values (2, $1, '{a,b}')`, [body]);
    await sql(url, `insert into docs values (3, 'small after', null)`);
    const fwd = startForwarder(cfg);
    try {
      const got = await readBack(cfg, (r) => byPos(r.changes).size >= 3);
      const chunks = got.frames.filter((f) => f.chunk);
      expect(chunks.length).toBeGreaterThanOrEqual(3);
      expect(chunks.map((f) => f.chunk!.index)).toEqual(chunks.map((_, i) => i));
      for (const f of got.frames) expect(Buffer.byteLength(JSON.stringify(f))).toBeLessThan(262_144 + 1024);
      const m = byPos(got.changes);
      expect(expectDense(m)).toEqual([1, 2, 3]);
      expect(m.get(2)!.row).toEqual({ id: 2, body, tags: ['a', 'b'] });
    } finally {
      await fwd.stop();
    }
  });

  it('a batch larger than kafka.maxTransactionBytes goes out in several Kafka transactions, every change once, in order', async () => {
    const base = testConfig(url, 'kafka');
    const cfg = { ...base, transport: { ...base.transport, maxFrameBytes: 50_000, maxTransactionBytes: 200_000 } } as typeof base;
    await sql(url, `insert into events select g, repeat('y', 200) from generate_series(1, 3000) g`);
    const fwd = startForwarder(cfg);
    try {
      const got = await readBack(cfg, (r) => byPos(r.changes).size >= 3000);
      const m = byPos(got.changes);
      expect(expectDense(m)).toHaveLength(3000);
      expect(m.get(3000)!.row).toEqual({ id: 3000, payload: 'y'.repeat(200) });
      // each committed Kafka transaction leaves a marker, one offset no message has
      const o = got.offsets!;
      const markers = o.slice(1).filter((x, i) => x !== o[i] + 1).length;
      expect(markers).toBeGreaterThanOrEqual(3); // ~750 KB of frames, 50 KB each, in transactions of ~200 KB
    } finally {
      await fwd.stop();
    }
  });

  it('the change table stays bounded during a run of 100k changes, and all of them are published', async () => {
    const cfg = testConfig(url, 'kafka', { forward: { rotateIntervalMs: 500, rotateMaxChanges: 10_000 } });
    const fwd = startForwarder(cfg);
    let maxRows = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const r = await sql<{ n: string }>(url, 'select count(*) as n from ferry.changes');
        maxRows = Math.max(maxRows, Number(r[0].n));
        await new Promise((res) => setTimeout(res, 100));
      }
    })();
    try {
      for (let i = 0; i < 100; i++) {
        // the writer stays at most 10k changes ahead of the forwarder, so what the table holds is
        // what rotation and pruning leave, not how far a slow machine's forwarder fell behind
        while (i * 1000 - (await withClient(url, publishedPosition)) > 10_000) await new Promise((res) => setTimeout(res, 20));
        await sql(url, `insert into events select g, repeat('x', 100) from generate_series($1::bigint, $1::bigint + 999) g`, [i * 1000 + 1]);
      }
      const got = await readBack(cfg, (r) => r.changes.length > 0 && r.changes[r.changes.length - 1].pos >= 100_000, 120_000);
      expect(byPos(got.changes).size).toBe(100_000);
      // give the pruner a moment after the last publish, then the tables must have been emptied
      await new Promise((res) => setTimeout(res, 2500));
    } finally {
      sampling = false;
      await sampler;
      await fwd.stop();
    }
    const left = await sql<{ n: string }>(url, 'select count(*) as n from ferry.changes');
    // three tables of at most ~rotateMaxChanges each, never the whole run
    expect(maxRows).toBeLessThan(45_000);
    expect(maxRows).toBeGreaterThan(0);
    expect(Number(left[0].n)).toBeLessThan(20_000);
  });
});
