// Characters a transport does not carry as they are, and frames naming tables a DC must not write
// (issue 11), end to end through the real services.
import { Kafka, logLevel } from 'kafkajs';
import { encodeFrames } from '../../src/protocol/envelope';
import { ensureTopic } from '../../src/transport/kafka';
import { kafkaTopic } from '../../src/transport/names';
import { sql } from '../support/db';
import { createMesh, Mesh, tableRows } from '../support/mesh';
import { TransportKind, waitFor } from '../support/origin';

// every one of these must come out byte for byte as it went in
const AWKWARD_TEXT = [
  'U+0001 \u0001 start of heading',
  'U+FFFE \uFFFE and U+FFFF \uFFFF noncharacters',
  'U+FFFD \uFFFD replacement character',
  'controls \u0002\u0007\u0008\u000b\u000c\u001b\u001f\u007f\u0080\u0085\u009f',
  'tab\tnewline\ncarriage return\r',
  'emoji 👍🏽 🇺🇦 👩‍👩‍👧‍👦 and the last plane \u{10FFFD}',
  'escapes as text: \\u0001 \\uFFFF "quoted" \\\\',
  '\uFFFF\uFFFE\u0001',
];

describe.each<TransportKind>(['kafka', 'sqs'])('characters over %s', (kind) => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('text, arrays and jsonb holding U+0001, U+FFFE, U+FFFF, U+FFFD, control characters and emoji arrive byte for byte', async () => {
    mesh = await createMesh(kind, `create table public.chars (id int primary key, t text, a text[], j jsonb, k text unique)`, ['public.chars'], ['a', 'b']);
    for (const dc of mesh.dcs) mesh.start(dc);
    const a = mesh.url['dc-a'];
    for (const [i, s] of AWKWARD_TEXT.entries()) {
      await sql(a, `insert into chars values ($1, $2, array[$2, 'plain'], jsonb_build_object('v', $2::text, $2::text, 1), $2)`, [i, s]);
    }
    // and an update whose key is one of them, and a delete
    await sql(a, `update chars set t = t || '\uFFFF' where id = 1`);
    await sql(a, `delete from chars where id = 7`);
    await mesh.drained();
    const bytes = (url: string) => sql<{ id: number; h: string }>(url, `select id, encode(convert_to(t, 'UTF8'), 'hex') || ':' || encode(convert_to(a::text, 'UTF8'), 'hex') || ':' || encode(convert_to(j::text, 'UTF8'), 'hex') || ':' || encode(convert_to(k, 'UTF8'), 'hex') as h from chars order by id`);
    const there = await bytes(mesh.url['dc-b']);
    expect(there).toEqual(await bytes(a));
    expect(there).toHaveLength(AWKWARD_TEXT.length - 1);
    // and they are what the application wrote, not merely the same wrong thing twice
    const got = await sql<{ id: number; t: string }>(mesh.url['dc-b'], `select id, t from chars order by id`);
    expect(got.map((r) => r.t)).toEqual(AWKWARD_TEXT.slice(0, 7).map((s, i) => (i === 1 ? s + '\uFFFF' : s)));
    expect(await sql(mesh.url['dc-b'], `select origin, error from ferry.applied where error is not null or status <> 'running'`)).toEqual([]);
  });
});

describe('frames naming tables this DC does not take, over kafka', () => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('an untracked table and a table of schema ferry stop the origin\'s stream with the fix, and write nothing', async () => {
    mesh = await createMesh('kafka', `create table public.shared (id int primary key, v text); create table public.private (id int primary key, v text)`, ['public.shared'], ['a', 'b']);
    const t = mesh.cfg['dc-a'].transport;
    if (t.kind !== 'kafka') throw new Error('kafka only');
    const kafka = new Kafka({ brokers: t.brokers, logLevel: logLevel.NOTHING });
    const topic = kafkaTopic(t.topicPrefix, 'dc-a');
    await ensureTopic(kafka, topic);
    const producer = kafka.producer();
    await producer.connect();
    const at = new Date().toISOString();
    const change = (pos: number, table: string, row: string) => ({ pos, id: pos, xid: String(100 + pos), txEnd: true, table, op: 'I' as const, key: `{"id": ${pos}}`, row, old: null, at, ms: Date.now() });
    const send = async (c: ReturnType<typeof change>) => {
      for (const f of encodeFrames({ origin: 'dc-a', epoch: 1, tick: c.pos, at }, [c], 100_000)) await producer.send({ topic, acks: -1, messages: [{ value: f.body }] });
    };
    const stopped = () => waitFor(async () => (await sql<{ error: string; error_pos: string }>(mesh.url['dc-b'], `select error, error_pos from ferry.applied where origin = 'dc-a' and status = 'stopped'`))[0], 60_000, 'the stream to stop');
    try {
      mesh.start('dc-b', { forward: false });
      await send(change(1, 'public.shared', '{"id": 1, "v": "fine"}'));
      await send(change(2, 'public.private', '{"id": 2, "v": "not agreed"}'));
      let s = await stopped();
      expect(Number(s.error_pos)).toBe(2);
      expect(s.error).toMatch(/table public\.private is not tracked at this DC, and a DC applies only the tables it tracks/);
      expect(s.error).toMatch(/run `ferry track public\.private` at this DC; the stream continues by itself once it is tracked/);
      expect(await tableRows(mesh.url['dc-b'], 'shared', 'id')).toEqual(['(1,fine)']);
      expect(await tableRows(mesh.url['dc-b'], 'private', 'id')).toEqual([]);

      // skipped by an operator, the next frame names Ferry's own table
      await mesh.cli('dc-b', ['skip', '--origin', 'dc-a', '--pos', '2', '--reason', 'test']);
      await send(change(3, 'ferry.skips', '{"id": 3}'));
      s = await waitFor(async () => {
        const x = await stopped();
        return Number(x.error_pos) === 3 ? x : undefined;
      }, 60_000, 'the stream to stop at position 3');
      expect(s.error).toMatch(/names Ferry's own table ferry\.skips, which is never written from the wire/);
      expect((await sql<{ n: number }>(mesh.url['dc-b'], `select count(*)::int as n from ferry.skips`))[0].n).toBe(1);
    } finally {
      await producer.disconnect();
    }
  });
});
