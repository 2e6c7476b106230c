// The applier against hostile delivery: frames published twice, out of order, or withheld.
// The test is the forwarder here: it writes frames straight to the real topic / queue.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Change, EncodedFrame, encodeFrames } from '../../src/protocol/envelope';
import { ensureTopic } from '../../src/transport/kafka';
import { ensureQueue } from '../../src/transport/sqs';
import { kafkaTopic, sqsQueueName } from '../../src/transport/names';
import { sql } from '../support/db';
import { createMesh, Mesh, tableRows } from '../support/mesh';
import { TransportKind, waitFor } from '../support/origin';

const DDL = `create table public.items (id int primary key, v text, n int not null default 0);`;

/** 30 changes in 10 source transactions of 3: insert, update, and (every other tx) a delete. */
function changes(): Change[] {
  const out: Change[] = [];
  let pos = 0;
  for (let t = 0; t < 10; t++) {
    const id = t + 1;
    const base = { table: 'public.items', old: null, at: new Date().toISOString(), xid: String(1000 + t), ms: 1_000_000 + t };
    const key = (k: number) => `{"id": ${k}}`;
    const row = (v: string, n: number) => JSON.stringify({ id, v, n });
    out.push({ ...base, pos: ++pos, id: pos, txEnd: false, op: 'I', key: key(id), row: row(`v${id}`, 0) });
    out.push({ ...base, pos: ++pos, id: pos, txEnd: false, op: 'U', key: key(id), row: row(`v${id}`, 1) });
    if (t % 2) out.push({ ...base, pos: ++pos, id: pos, txEnd: true, op: 'D', key: key(id - 1), row: null });
    else out.push({ ...base, pos: ++pos, id: pos, txEnd: true, op: 'U', key: key(id), row: row(`v${id}!`, 2) });
  }
  return out;
}

interface Injector {
  send(frames: EncodedFrame[]): Promise<void>;
  close(): Promise<void>;
}

async function injector(mesh: Mesh, kind: TransportKind): Promise<Injector> {
  const t = mesh.cfg['dc-a'].transport;
  if (t.kind === 'kafka') {
    const kafka = new Kafka({ brokers: t.brokers, logLevel: logLevel.NOTHING });
    const topic = kafkaTopic(t.topicPrefix, 'dc-a');
    await ensureTopic(kafka, topic);
    const p: Producer = kafka.producer();
    await p.connect();
    return {
      send: async (frames) => {
        for (const f of frames) await p.send({ topic, acks: -1, messages: [{ value: f.body }] });
      },
      close: () => p.disconnect(),
    };
  }
  if (t.kind !== 'sqs' || kind !== 'sqs') throw new Error('kind mismatch');
  const sqs = new SQSClient({ endpoint: t.endpoint, region: t.region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const url = await ensureQueue(sqs, sqsQueueName(t.queuePrefix, 'dc-a', 'dc-b'), 30);
  return {
    // a fresh deduplication id each time: SQS itself must not hide the duplicates from the applier
    send: async (frames) => {
      for (const f of frames) await sqs.send(new SendMessageCommand({ QueueUrl: url, MessageBody: f.body, MessageGroupId: 'dc-a', MessageDeduplicationId: randomUUID() }));
    },
    close: async () => sqs.destroy(),
  };
}

const expected = [
  '(2,v2,1)', '(4,v4,1)', '(6,v6,1)', '(8,v8,1)', '(10,v10,1)',
];

describe.each<TransportKind>(['kafka', 'sqs'])('applier over %s', (kind) => {
  let mesh: Mesh;
  let inj: Injector;
  let frames: EncodedFrame[];
  beforeEach(async () => {
    mesh = await createMesh(kind, DDL, ['public.items'], ['a', 'b'], { apply: { gapTimeoutMs: 3000 } });
    // dc-b's write log: every row write the applier makes, to catch a change applied twice
    await sql(
      mesh.url['dc-b'],
      `create table write_log (id int, n int);
       create function log_write() returns trigger language plpgsql as $$ begin insert into write_log values (new.id, new.n); return null; end $$;
       create trigger log_write after insert or update on items for each row execute function log_write();`,
    );
    inj = await injector(mesh, kind);
    // one change per frame, so order and duplication can be chosen frame by frame
    frames = changes().flatMap((c) => encodeFrames({ origin: 'dc-a', epoch: 1, tick: c.pos, at: c.at }, [c], 100_000));
    mesh.start('dc-b', { forward: false });
  });
  afterEach(async () => {
    await inj.close();
    await mesh.close();
  });

  const applied = async () => Number((await sql<{ pos: string }>(mesh.url['dc-b'], `select pos from ferry.applied where origin = 'dc-a'`))[0]?.pos ?? 0);

  it('frames published twice: each change is applied once', async () => {
    await inj.send(frames.slice(0, 15));
    await inj.send(frames.slice(5, 30)); // 5..14 again
    await inj.send(frames.slice(20, 30)); // and 20..29 again
    await waitFor(async () => (await applied()) === 30, 30000, 'position 30');
    await new Promise((r) => setTimeout(r, 500));
    expect(await tableRows(mesh.url['dc-b'], 'items', 'id')).toEqual(expected);
    // 10 inserts + 20 updates: one row write per change, none repeated
    expect(Number((await sql<{ n: string }>(mesh.url['dc-b'], 'select count(*) as n from write_log'))[0].n)).toBeLessThanOrEqual(30);
    const per = await sql<{ id: number; n: number; c: string }>(mesh.url['dc-b'], 'select id, n, count(*) as c from write_log group by 1, 2 having count(*) > 1');
    expect(per).toEqual([]);
  });

  it('frames out of order: the same final result', async () => {
    const shuffled = [...frames];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = (i * 7 + 3) % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    expect(shuffled.map((f) => f.firstPos)).not.toEqual(frames.map((f) => f.firstPos));
    await inj.send(shuffled);
    await waitFor(async () => (await applied()) === 30, 30000, 'position 30');
    expect(await tableRows(mesh.url['dc-b'], 'items', 'id')).toEqual(expected);
  });

  it('a frame withheld: the stream waits, then stops loudly; released, it continues', async () => {
    const withheld = frames[12]; // position 13, in the middle of the 5th source transaction
    await inj.send(frames.filter((f) => f !== withheld));
    // everything before the transaction that holds position 13 is applied, nothing after
    await waitFor(async () => (await applied()) === 12, 30000, 'position 12');
    const stopped = await waitFor(
      async () => (await sql<{ status: string; error: string; error_pos: string }>(mesh.url['dc-b'], `select status, error, error_pos from ferry.applied where origin = 'dc-a' and status = 'stopped'`))[0],
      30000,
      'the stream to stop',
    );
    // ticks here are numbered like positions: 12 was applied, 14 is held, so 13 lies in 12..14
    expect(stopped.error).toMatch(/gap: position 13 of tick 12\.\.14 has not arrived/);
    expect(stopped.error).toMatch(/origin dc-a/);
    expect(Number(stopped.error_pos)).toBe(13);
    expect(await applied()).toBe(12);
    expect((await sql(mesh.url['dc-b'], 'select 1 from items where id >= 5')).length).toBe(0);

    await inj.send([withheld]);
    await waitFor(async () => (await applied()) === 30, 60000, 'position 30 after the release');
    expect(await tableRows(mesh.url['dc-b'], 'items', 'id')).toEqual(expected);
    const st = await sql<{ status: string; error: string | null }>(mesh.url['dc-b'], `select status, error from ferry.applied where origin = 'dc-a'`);
    expect(st[0]).toEqual({ status: 'running', error: null });
  });
});
