// Transport conformance: what the real publishers put on Kafka and SQS arrives at the subscribers
// in order and complete, acked messages stay forgotten, unacked ones come again (at-least-once).
// The in-memory transport runs the parts of the suite its model covers.
import { Kafka, logLevel } from 'kafkajs';
import { DeleteQueueCommand, GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import { transportSchema, KafkaConfig, SqsConfig } from '../../src/config/schema';
import { createLogger } from '../../src/common/logger';
import { Change, EncodedFrame, encodeFrames } from '../../src/protocol/envelope';
import type { Delivery, Publisher, Subscriber } from '../../src/transport/types';
import { KafkaPublisher } from '../../src/transport/kafka';
import { SqsPublisher } from '../../src/transport/sqs';
import { KafkaSubscriber } from '../../src/transport/kafka-subscriber';
import { SqsSubscriber } from '../../src/transport/sqs-subscriber';
import { MemoryBus, MemoryPublisher, MemorySubscriber } from '../../src/transport/memory';
import { kafkaTopic, sqsQueueName } from '../../src/transport/names';
import { services } from '../support/services';
import { uniq } from '../support/db';

const env = services();
const log = createLogger(process.env.FERRY_LOG_LEVEL ?? 'warn');
const ORIGIN = 'dc-a';
const DC = 'dc-b';

/** One origin's stream on one transport, with its own topic / queue. */
interface Stream {
  publisher(): Publisher;
  subscriber(): Subscriber;
  cleanup(): Promise<void>;
  /** SQS: the queue's name, to look at it directly. */
  queue?: string;
}

interface Transport {
  name: string;
  stream(): Stream;
  /** A new subscriber without resumeFrom continues after what was acked (Kafka group offset, SQS delete). */
  remembersAcks: boolean;
  /** Deliveries carry offsets that resumeFrom understands. */
  offsets: boolean;
}

const kafkaTransport: Transport = {
  name: 'kafka',
  remembersAcks: true,
  offsets: true,
  stream() {
    const cfg = transportSchema.parse({ kind: 'kafka', brokers: env.FERRY_KAFKA_BROKERS.split(','), topicPrefix: uniq('tt') }) as KafkaConfig;
    return {
      publisher: () => new KafkaPublisher(cfg, ORIGIN, log),
      subscriber: () => new KafkaSubscriber(cfg, ORIGIN, DC, log),
      async cleanup() {
        const admin = new Kafka({ brokers: cfg.brokers, logLevel: logLevel.NOTHING }).admin();
        await admin.connect();
        await admin.deleteTopics({ topics: [kafkaTopic(cfg.topicPrefix, ORIGIN)] }).catch(() => undefined);
        await admin.disconnect();
      },
    };
  },
};

const sqsCfg = (over: Partial<SqsConfig> = {}): SqsConfig =>
  transportSchema.parse({
    kind: 'sqs',
    endpoint: env.FERRY_SQS_ENDPOINT,
    queuePrefix: uniq('tq'),
    accessKeyId: 'x',
    secretAccessKey: 'x',
    waitTimeSeconds: 10, // the real long poll: stop() must still end at once
    visibilityTimeoutSeconds: 5,
    ...over,
  }) as SqsConfig;

function sqsStream(cfg = sqsCfg()): Stream {
  return {
    queue: sqsQueueName(cfg.queuePrefix, ORIGIN, DC),
    publisher: () => new SqsPublisher(cfg, ORIGIN, [DC], log),
    subscriber: () => new SqsSubscriber(cfg, ORIGIN, DC, log),
    async cleanup() {
      const c = new SQSClient({ endpoint: cfg.endpoint, region: cfg.region, credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
      const { QueueUrl } = await c.send(new GetQueueUrlCommand({ QueueName: sqsQueueName(cfg.queuePrefix, ORIGIN, DC) })).catch(() => ({ QueueUrl: undefined }));
      if (QueueUrl) await c.send(new DeleteQueueCommand({ QueueUrl }));
      c.destroy();
    },
  };
}

const sqsTransport: Transport = { name: 'sqs', remembersAcks: true, offsets: false, stream: () => sqsStream() };

const memoryTransport: Transport = {
  name: 'memory',
  remembersAcks: false,
  offsets: true,
  stream() {
    const bus = new MemoryBus();
    return { publisher: () => new MemoryPublisher(bus, ORIGIN), subscriber: () => new MemorySubscriber(bus, ORIGIN), cleanup: async () => undefined };
  },
};

/** Frames with literal bodies; the transport never looks inside them. */
function frames(tick: number, from: number, n: number): EncodedFrame[] {
  return Array.from({ length: n }, (_, i) => {
    const pos = from + i;
    return { body: `frame ${pos} of tick ${tick} ✓`, origin: ORIGIN, tick, firstPos: pos, lastPos: pos, dedupId: `${ORIGIN}-${pos}` };
  });
}

async function publish(p: Publisher, tick: number, groups: EncodedFrame[][]): Promise<void> {
  await p.publish(
    tick,
    (async function* () {
      yield* groups;
    })(),
  );
}

/** Starts a subscriber that records every delivery; `onBatch` runs inside the handler. */
async function collect(sub: Subscriber, opts: { resumeFrom?: string; onBatch?: (b: Delivery[]) => Promise<void> } = {}) {
  const got: Delivery[] = [];
  await sub.start(async (batch) => {
    got.push(...batch);
    await opts.onBatch?.(batch);
  }, opts.resumeFrom);
  return got;
}

async function until(what: string, cond: () => boolean, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const settle = (ms = 700) => new Promise((r) => setTimeout(r, ms));
const bodies = (xs: { body: string }[]) => xs.map((x) => x.body);

describe.each([kafkaTransport, sqsTransport, memoryTransport])('transport conformance: $name', (t) => {
  let stream: Stream;
  const running: (Publisher | Subscriber)[] = [];
  const track = <T extends Publisher | Subscriber>(x: T) => (running.push(x), x);

  beforeEach(() => {
    stream = t.stream();
  });
  afterEach(async () => {
    for (const x of running.splice(0).reverse()) await x.stop();
    await stream.cleanup();
  });

  it('delivers published frames in order and complete, also to a subscriber started before the first publish', async () => {
    const sub = track(stream.subscriber());
    const got = await collect(sub, { onBatch: (b) => sub.ack(b) });
    const pub = track(stream.publisher());
    await pub.start();
    // real envelopes: small frames, so one batch makes many messages
    const changes: Change[] = Array.from({ length: 30 }, (_, i) => ({
      pos: i + 1, id: 100 + i, xid: '774421', txEnd: i % 3 === 2, table: 'public.accounts', op: 'U',
      key: `{"aid": ${i}}`, row: `{"aid": ${i}, "note": "ä😀"}`, old: null, at: '2026-11-22T02:40:33.627Z', ms: 1_795_000_000_000 + i,
    }));
    const first = encodeFrames({ origin: ORIGIN, epoch: 1, tick: 1, at: '2026-11-22T02:40:33.627Z' }, changes.slice(0, 24), 450);
    const second = encodeFrames({ origin: ORIGIN, epoch: 1, tick: 2, at: '2026-11-22T02:40:33.627Z' }, changes.slice(24), 450);
    expect(first.length).toBeGreaterThan(10);
    await publish(pub, 1, [first.slice(0, 5), first.slice(5)]);
    await publish(pub, 2, [second]);
    const sent = [...first, ...second].map((f) => f.body);
    await until(`${sent.length} deliveries`, () => got.length >= sent.length);
    await settle();
    expect(bodies(got)).toEqual(sent);
    expect(got.every((d) => d.origin === ORIGIN)).toBe(true);
    if (t.offsets) {
      const offs = got.map((d) => BigInt(d.offset!));
      expect(offs.every((o, i) => i === 0 || o > offs[i - 1])).toBe(true);
    }
  });

  it('a new subscriber resumes after what was acked: from resumeFrom, whatever the group says', async () => {
    if (!t.offsets) return; // SQS has no offsets: see the next test
    const pub = track(stream.publisher());
    await pub.start();
    await publish(pub, 1, [frames(1, 1, 6)]);

    const s1 = stream.subscriber();
    const got1 = await collect(s1, { onBatch: (b) => s1.ack(b) });
    await until('6 deliveries', () => got1.length >= 6);
    await s1.stop();
    const lastApplied = got1[5].offset!;

    await publish(pub, 2, [frames(2, 7, 3)]);
    const expected = frames(2, 7, 3).map((f) => f.body);
    const s2 = track(stream.subscriber());
    const got2 = await collect(s2, { resumeFrom: lastApplied }); // no ack: the group stays at 7
    await until('3 new deliveries', () => got2.length >= 3);
    await settle();
    expect(bodies(got2)).toEqual(expected);
    await s2.stop();

    // behind the group's offset: the stored position wins (e.g. a restored destination)
    const s3 = track(stream.subscriber());
    const got3 = await collect(s3, { resumeFrom: got1[1].offset! });
    await until('7 deliveries', () => got3.length >= 7);
    await settle();
    expect(bodies(got3)).toEqual([...bodies(got1.slice(2)), ...expected]);
    await s3.stop();

    // ahead of the group's offset, too
    const s4 = track(stream.subscriber());
    const got4 = await collect(s4, { resumeFrom: got2[0].offset! });
    await until('2 deliveries', () => got4.length >= 2);
    await settle();
    expect(bodies(got4)).toEqual(expected.slice(1));
  });

  it('without resumeFrom, a new subscriber of the same DC does not get acked messages again', async () => {
    if (!t.remembersAcks) return; // the memory transport keeps no position of its own
    const pub = track(stream.publisher());
    await pub.start();
    await publish(pub, 1, [frames(1, 1, 6)]);
    const s1 = stream.subscriber();
    const got1 = await collect(s1, { onBatch: (b) => s1.ack(b) });
    await until('6 deliveries', () => got1.length >= 6);
    await s1.stop();
    expect(bodies(got1)).toEqual(frames(1, 1, 6).map((f) => f.body));

    if (t.name === 'sqs') {
      // deleted, not merely hidden
      const c = new SQSClient({ endpoint: env.FERRY_SQS_ENDPOINT, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
      const { QueueUrl } = await c.send(new GetQueueUrlCommand({ QueueName: stream.queue }));
      const a = await c.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      c.destroy();
      expect(a.Attributes).toMatchObject({ ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0' });
    }

    await publish(pub, 2, [frames(2, 7, 3)]);
    const s2 = track(stream.subscriber());
    const got2 = await collect(s2, { onBatch: (b) => s2.ack(b) });
    await until('3 new deliveries', () => got2.length >= 3);
    await settle();
    expect(bodies(got2)).toEqual(frames(2, 7, 3).map((f) => f.body));
  });

  it('an ack followed at once by stop() holds: the acked messages do not come again', async () => {
    if (!t.remembersAcks) return;
    const pub = track(stream.publisher());
    await pub.start();
    await publish(pub, 1, [frames(1, 1, 3)]);
    const s1 = stream.subscriber();
    const got1 = await collect(s1);
    await until('3 deliveries', () => got1.length >= 3);
    // no pause between them: acks that go out behind the caller (the second waits for the first)
    // are all sent before the stop
    await s1.ack(got1.slice(0, 1));
    await s1.ack(got1.slice(1, 3));
    await s1.stop();

    await publish(pub, 2, [frames(2, 4, 1)]);
    const s2 = track(stream.subscriber());
    const got2 = await collect(s2);
    await until('the new delivery', () => got2.length >= 1);
    await settle();
    expect(bodies(got2)).toEqual(bodies(frames(2, 4, 1)));
  });

  it('messages not acked come again after a restart (at-least-once); acked ones do not', async () => {
    const pub = track(stream.publisher());
    await pub.start();
    const sent = frames(1, 1, 4).map((f) => f.body);
    await publish(pub, 1, [frames(1, 1, 4)]);
    const s1 = stream.subscriber();
    const got1 = await collect(s1, { onBatch: (b) => s1.ack(b.slice(0, 2)) }); // only the first two applied
    await until('4 deliveries', () => got1.length >= 4);
    await settle(300);
    await s1.stop();
    expect(bodies(got1)).toEqual(sent);

    const s2 = track(stream.subscriber());
    const got2 = await collect(s2, { resumeFrom: t.remembersAcks ? undefined : got1[1].offset });
    await until('the 2 unacked again', () => got2.length >= 2, 15_000);
    await settle();
    expect(bodies(got2)).toEqual(sent.slice(2));
  });

  it('rewind() delivers again everything after the last ack, from outside and from inside the handler', async () => {
    // batch boundaries are the transport's business (SQS may hand out part of what it has): only
    // the order of what comes is checked
    const pub = track(stream.publisher());
    await pub.start();
    const one = bodies(frames(1, 1, 5));
    const two = bodies(frames(2, 6, 3));
    await publish(pub, 1, [frames(1, 1, 5)]);
    const sub = track(stream.subscriber());
    let phase = 1;
    let firstOfTwo: Delivery[] | undefined;
    const got = await collect(sub, {
      onBatch: async (b) => {
        if (phase === 1) return sub.ack(b.filter((d) => one.indexOf(d.body) < 2)); // 3..5 wait for a gap that never fills
        if (two.includes(b[0].body) && !firstOfTwo) {
          firstOfTwo = b;
          return sub.rewind(); // inside the handler, nothing of this batch acked
        }
        return sub.ack(b);
      },
    });
    await until('5 deliveries', () => got.length >= 5);
    await settle(300);
    phase = 2;
    await sub.rewind();
    await until('3, 4, 5 again', () => got.length >= 8);
    expect(bodies(got)).toEqual([...one, ...one.slice(2)]);

    await publish(pub, 2, [frames(2, 6, 3)]);
    await until('the second tick after a rewind', () => got.length >= 8 + (firstOfTwo?.length ?? 99) + 3);
    await settle();
    const again = firstOfTwo!.length;
    expect(bodies(got.slice(8))).toEqual([...two.slice(0, again), ...two]);
  });

  it('declares truthfully whether it delivers more while a message is unacknowledged (blocksWhileUnacked)', async () => {
    const pub = track(stream.publisher());
    await pub.start();
    const sub = track(stream.subscriber());
    const got = await collect(sub); // never acks by itself
    await publish(pub, 1, [frames(1, 1, 1)]);
    await until('the first delivery', () => got.length >= 1);
    await publish(pub, 2, [frames(2, 2, 1)]);
    await settle(3000);
    expect(bodies(got)).toEqual(bodies(sub.blocksWhileUnacked ? frames(1, 1, 1) : [...frames(1, 1, 1), ...frames(2, 2, 1)]));
    // once the first is acknowledged, the second comes in any case
    await sub.ack(got.slice(0, 1));
    await until('the second delivery', () => got.length >= 2);
    expect(bodies(got)).toEqual(bodies([...frames(1, 1, 1), ...frames(2, 2, 1)]));
    expect(sub.blocksWhileUnacked).toBe(t.name === 'sqs');
  });

  it('a handler that fails gets the same messages again', async () => {
    if (t.name === 'memory') return; // MemorySubscriber advances before its handler runs (see the report)
    const pub = track(stream.publisher());
    await pub.start();
    await publish(pub, 1, [frames(1, 1, 3)]);
    const sub = track(stream.subscriber());
    let calls = 0;
    const got = await collect(sub, {
      onBatch: async (b) => {
        if (++calls === 1) throw new Error('apply failed (on purpose)');
        await sub.ack(b);
      },
    });
    await until('a second delivery', () => got.length >= 6);
    expect(bodies(got)).toEqual([...frames(1, 1, 3), ...frames(1, 1, 3)].map((f) => f.body));
  });
});

describe('SQS specifics', () => {
  let stream: Stream;
  const running: (Publisher | Subscriber)[] = [];
  beforeEach(() => {
    stream = sqsStream();
  });
  afterEach(async () => {
    for (const x of running.splice(0).reverse()) await x.stop();
    await stream.cleanup();
  });

  it('two publishes of the same frames (same deduplication ids) within the window deliver once', async () => {
    const pub = stream.publisher();
    running.push(pub);
    await pub.start();
    await publish(pub, 1, [frames(1, 1, 3)]);
    await publish(pub, 1, [frames(1, 1, 3)]); // a forwarder re-publishing after a crash
    await publish(pub, 2, [frames(2, 4, 1)]);
    const sub = stream.subscriber();
    running.push(sub);
    const got = await collect(sub, { onBatch: (b) => sub.ack(b) });
    await until('4 deliveries', () => got.length >= 4);
    await settle(1500);
    expect(bodies(got)).toEqual(bodies([...frames(1, 1, 3), ...frames(2, 4, 1)]));
  });

  it('a handler slower than the visibility timeout (5 s) is not redelivered while it runs', async () => {
    const pub = stream.publisher();
    running.push(pub);
    await pub.start();
    await publish(pub, 1, [frames(1, 1, 12)]); // two receives' worth
    const slow = stream.subscriber();
    const rival = stream.subscriber(); // another poller on the same queue sees any redelivery
    running.push(slow, rival);
    let inHandler = false;
    const got = await collect(slow, {
      onBatch: async (b) => {
        if (!inHandler) {
          inHandler = true;
          await new Promise((r) => setTimeout(r, 8_000));
        }
        await slow.ack(b);
      },
    });
    await until('the slow handler to start', () => inHandler);
    const rivalGot = await collect(rival, { onBatch: (b) => rival.ack(b) });
    await until('the slow handler to ack', () => got.length >= 10 && rivalGot.length + got.length >= 12, 20_000);
    await settle(1000);
    // every message once, across both pollers: nothing came back while the first batch was applied
    expect([...bodies(got), ...bodies(rivalGot)].sort()).toEqual(frames(1, 1, 12).map((f) => f.body).sort());
    expect(bodies(got).slice(0, 10)).toEqual(frames(1, 1, 10).map((f) => f.body));
  });

  it('a successor started right after stop() is not held up for the visibility timeout (30 s)', async () => {
    // the long poll stop() abandons still takes messages on the server; they must not hide for 30 s
    stream = sqsStream(sqsCfg({ visibilityTimeoutSeconds: 30 }));
    const pub = stream.publisher();
    running.push(pub);
    await pub.start();
    const s1 = stream.subscriber();
    await collect(s1);
    await settle(500); // s1 is in a long poll
    await s1.stop();
    await publish(pub, 1, [frames(1, 1, 3)]);
    const s2 = stream.subscriber();
    running.push(s2);
    const t0 = Date.now();
    const got = await collect(s2, { onBatch: (b) => s2.ack(b) });
    await until('3 deliveries', () => got.length >= 3, 12_000);
    expect(bodies(got)).toEqual(bodies(frames(1, 1, 3)));
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('stop() ends a long poll at once', async () => {
    const sub = stream.subscriber();
    await collect(sub);
    await settle(500); // inside a 10 s long poll now
    const t0 = Date.now();
    await sub.stop();
    expect(Date.now() - t0).toBeLessThan(1_000);
  });
});
