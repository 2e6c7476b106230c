import { spawn, ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { DeleteMessageBatchCommand, GetQueueUrlCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Client, Pool } from 'pg';
import { migrate } from '../../src/capture/migrate';
import { parseConfig } from '../../src/config/load';
import type { FerryConfig } from '../../src/config/schema';
import { createLogger } from '../../src/common/logger';
import { Forwarder } from '../../src/forward/forwarder';
import { decodeFrame } from '../../src/protocol/decode';
import type { Change, Frame, RowImage } from '../../src/protocol/envelope';
import { parseExact } from '../../src/protocol/json';
import { Reassembler } from '../../src/protocol/reassembler';
import { publisherFor } from '../../src/transport';
import { kafkaTopic, sqsQueueName } from '../../src/transport/names';
import { services, ROOT } from './services';
import { dropDatabase, freshDatabase, uniq } from './db';
import { testFile } from './files';

export const quietLog = createLogger(process.env.FERRY_TEST_LOG_LEVEL ?? 'warn');

/** Installs schema ferry in a database and runs the given DDL + track calls. */
export async function prepareOrigin(url: string, ddl: string, tables: string[], origin = 'dc-a'): Promise<void> {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    await migrate(c, { origin });
    if (ddl) await c.query(ddl);
    for (const t of tables) await c.query('select ferry.track($1::regclass)', [t]);
  } finally {
    await c.end();
  }
}

export type TransportKind = 'kafka' | 'sqs';

export function testConfig(url: string, kind: TransportKind, over: Record<string, unknown> = {}, origin = 'dc-a', prefix = uniq('t')): FerryConfig {
  const env = services();
  const transport =
    kind === 'kafka'
      ? { kind, brokers: env.FERRY_KAFKA_BROKERS.split(','), topicPrefix: prefix }
      : { kind, endpoint: env.FERRY_SQS_ENDPOINT, region: 'us-east-1', queuePrefix: prefix, accessKeyId: 'test', secretAccessKey: 'test', waitTimeSeconds: 1 };
  const { transport: tOver, forward, ...rest } = over as { transport?: object; forward?: object };
  return parseConfig(
    { origin, database: url, peers: ['dc-b'], transport: { ...transport, ...(tOver ?? {}) }, forward: { tickIntervalMs: 20, idleAfterMs: 500, ...(forward ?? {}) }, ...rest },
    'test',
  );
}

export function startForwarder(cfg: FerryConfig): { stop: () => Promise<void>; done: Promise<void> } {
  const pub = publisherFor(cfg, quietLog);
  const ac = new AbortController();
  const done = new Forwarder(cfg, pub, quietLog).run(ac.signal);
  return {
    done,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}

/** Runs `ferry forward` as its own process (for kill -9 tests). Needs `npm run build`. */
export function spawnForwarder(cfg: FerryConfig, env: Record<string, string> = {}): ChildProcess {
  const bin = path.join(ROOT, 'bin', 'ferry');
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (make test does) before the integration tests');
  const file = testFile('cfg', 'json', JSON.stringify(cfg));
  const child = spawn(process.execPath, [bin, 'forward', '--config', file], {
    env: { ...process.env, FERRY_LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return child;
}

/** A change as a test reads it: key, row and old parsed (exactly) from their wire text, which is kept too. */
export type ReadChange = Omit<Change, 'key' | 'row' | 'old'> & { key: RowImage | null; row: RowImage | null; old: RowImage | null; rowText: string | null };

export interface Received {
  frames: Frame[];
  changes: ReadChange[]; // in arrival order, duplicates kept, chunks reassembled
  /** Kafka: the offset of each message read (a committed transaction's marker takes one too). */
  offsets?: number[];
}

/** Exactly, digit for digit; a json column holding repeated keys (which an exact parser refuses) plainly. */
function parsed(t: string | null): RowImage | null {
  if (t === null) return null;
  try {
    return parseExact(t) as RowImage;
  } catch {
    return JSON.parse(t) as RowImage;
  }
}
export const readable = (c: Change): ReadChange => ({ ...c, key: parsed(c.key), row: parsed(c.row), old: parsed(c.old), rowText: c.row });

function absorb(out: Received, body: string, re: Reassembler) {
  const f = decodeFrame(body);
  out.frames.push(f);
  if (f.chunk) {
    const c = re.add(f);
    if (c) out.changes.push(readable(c));
  } else out.changes.push(...f.changes.map(readable));
}

/** Reads an origin's Kafka topic from the beginning until `until` is satisfied (or times out). */
export async function readKafka(cfg: FerryConfig, until: (r: Received) => boolean, timeoutMs = 30000): Promise<Received> {
  if (cfg.transport.kind !== 'kafka') throw new Error('not a kafka config');
  const kafka = new Kafka({ brokers: cfg.transport.brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: uniq('reader-') });
  const out: Received = { frames: [], changes: [] };
  const re = new Reassembler();
  const topic = kafkaTopic(cfg.transport.topicPrefix, cfg.origin);
  const admin = kafka.admin();
  await admin.connect();
  // the forwarder creates the topic when it starts: wait for it (subscribing first would auto-create it)
  await waitFor(() => admin.listTopics().then((ts) => ts.includes(topic)), timeoutMs, `topic ${topic}`).finally(() => admin.disconnect());
  await consumer.connect();
  try {
    await consumer.subscribe({ topic: kafkaTopic(cfg.transport.topicPrefix, cfg.origin), fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out: ${out.changes.length} changes read`)), timeoutMs);
      void consumer.run({
        eachMessage: async ({ message }) => {
          (out.offsets ??= []).push(Number(message.offset));
          absorb(out, message.value!.toString(), re);
          if (until(out)) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Drains the origin's SQS queue for `dest` until `until` is satisfied (deleting what it read). */
export async function readSqs(cfg: FerryConfig, until: (r: Received) => boolean, timeoutMs = 30000, dest = 'dc-b', out: Received = { frames: [], changes: [] }): Promise<Received> {
  const t = cfg.transport;
  if (t.kind !== 'sqs') throw new Error('not an sqs config');
  const sqs = new SQSClient({ endpoint: t.endpoint, region: t.region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const re = new Reassembler();
  const deadline = Date.now() + timeoutMs;
  try {
    // the forwarder creates the queue when it starts: wait for it
    const QueueUrl = await waitFor(
      () => sqs.send(new GetQueueUrlCommand({ QueueName: sqsQueueName(t.queuePrefix, cfg.origin, dest) })).then((r) => r.QueueUrl, () => undefined),
      timeoutMs,
      'the SQS queue',
    );
    while (!until(out)) {
      if (Date.now() > deadline) throw new Error(`timed out: ${out.changes.length} changes read`);
      const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const msgs = r.Messages ?? [];
      for (const m of msgs) absorb(out, m.Body!, re);
      if (msgs.length) await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: msgs.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })) }));
    }
  } finally {
    sqs.destroy();
  }
  return out;
}

const sqsSoFar = new WeakMap<FerryConfig, Received>();

/**
 * Everything published for cfg's origin so far, once `until` holds. Kafka is re-read from the
 * start; SQS messages are gone once read, so what was read before is kept per config.
 */
export function readBack(cfg: FerryConfig, until: (r: Received) => boolean, timeoutMs?: number): Promise<Received> {
  if (cfg.transport.kind === 'kafka') return readKafka(cfg, until, timeoutMs);
  const acc = sqsSoFar.get(cfg) ?? { frames: [], changes: [] };
  sqsSoFar.set(cfg, acc);
  return readSqs(cfg, until, timeoutMs, 'dc-b', acc);
}

/** Distinct changes by position; throws if one position arrived with different contents. */
export function byPos(changes: ReadChange[]): Map<number, ReadChange> {
  const m = new Map<number, ReadChange>();
  for (const c of changes) {
    const seen = m.get(c.pos);
    if (seen && JSON.stringify(seen) !== JSON.stringify(c)) throw new Error(`position ${c.pos} arrived twice with different contents`);
    m.set(c.pos, c);
  }
  return m;
}

export function expectDense(m: Map<number, ReadChange>): number[] {
  const pos = [...m.keys()].sort((a, b) => a - b);
  pos.forEach((p, i) => {
    if (p !== i + 1) throw new Error(`positions are not dense from 1: ${pos.slice(0, 20).join(',')}`);
  });
  return pos;
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 20000, what = 'condition', everyMs = 100): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * A fresh dc-a database with public.items tracked and a small pool on it, made before and dropped
 * after each test of the calling describe block; read them through the returned object.
 */
export function itemsOriginEachTest(): { url: string; pool: Pool } {
  const fx = {} as { url: string; pool: Pool };
  beforeEach(async () => {
    fx.url = await freshDatabase('a');
    await prepareOrigin(fx.url, `create table public.items (id int primary key, v text)`, ['public.items']);
    fx.pool = new Pool({ connectionString: fx.url, max: 2 });
  });
  afterEach(async () => {
    await fx.pool.end();
    await dropDatabase(fx.url);
  });
  return fx;
}
