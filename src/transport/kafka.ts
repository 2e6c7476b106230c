import { Kafka, logLevel, Producer } from 'kafkajs';
import type { KafkaConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import type { EncodedFrame } from '../protocol/envelope';
import { kafkaError } from './kafka-errors';
import type { Publisher } from './types';
import { kafkaTopic, kafkaTransactionalId } from './names';

// Ferry names its partitions itself (one per origin topic): the partitioner notice is noise.
process.env.KAFKAJS_NO_PARTITIONER_WARNING ??= '1';

export function kafkaClient(cfg: KafkaConfig, log: Logger, clientSuffix: string): Kafka {
  const kl = log.child({ lib: 'kafkajs' });
  return new Kafka({
    clientId: `${cfg.clientId}-${clientSuffix}`,
    brokers: cfg.brokers,
    logLevel: logLevel.WARN,
    logCreator: () => ({ level, log: entry }) => {
      const { message, ...rest } = entry;
      // a transaction begun right after the previous commit is briefly refused; kafkajs retries it
      if (/concurrent operation on the same transaction/.test(String(message) + String(rest.error))) kl.debug(rest, message);
      else if (level <= logLevel.ERROR) kl.error(rest, message);
      else kl.warn(rest, message);
    },
    retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 5000 },
  });
}

export async function ensureTopic(kafka: Kafka, topic: string): Promise<void> {
  const admin = kafka.admin();
  try {
    await admin.connect();
    const existing = await admin.listTopics();
    if (!existing.includes(topic)) {
      // one partition: the origin's stream is totally ordered (DESIGN.md §5). Another process
      // (a second forwarder, an applier) may create it at the same moment: that is fine.
      try {
        await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
      } catch (e) {
        const errs = (e as { errors?: { type?: string }[] }).errors ?? [];
        if (!errs.length || errs.some((x) => x.type !== 'TOPIC_ALREADY_EXISTS')) throw e;
      }
    }
  } catch (e) {
    throw kafkaError(e, { what: `making sure Kafka topic ${topic} exists`, topic });
  } finally {
    await admin.disconnect();
  }
}

/**
 * Publishes an origin's batches to its topic in one Kafka transaction each (several for a huge one). The transactional id is
 * per origin: when a new forwarder starts, Kafka bumps the producer epoch and an older (zombie)
 * producer of the same origin can no longer commit.
 */
export class KafkaPublisher implements Publisher {
  readonly kind = 'kafka';
  private producer?: Producer;
  private readonly kafka: Kafka;
  private readonly topic: string;

  constructor(private readonly cfg: KafkaConfig, private readonly origin: string, private readonly log: Logger) {
    this.kafka = kafkaClient(cfg, log, `fwd-${origin}`);
    this.topic = kafkaTopic(cfg.topicPrefix, origin);
  }

  async start(): Promise<void> {
    await ensureTopic(this.kafka, this.topic);
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      transactionalId: kafkaTransactionalId(this.cfg.topicPrefix, this.origin),
      // a batch is one Kafka transaction up to maxTransactionBytes, then several (see publish); 15 min is
      // the broker's default transaction.max.timeout.ms
      transactionTimeout: 900_000,
      // an idempotent producer must not give up on its own (kafkajs's rule for exactly-once);
      // a batch that cannot be sent simply waits, it is never skipped. The first retry comes soon:
      // the broker refuses a transaction begun while the markers of the one before are still being
      // written (CONCURRENT_TRANSACTIONS, a few ms), which happens to most ticks under load; with a
      // 200 ms first backoff that alone was a 200–250 ms step in the latency of every such batch
      // (the Java producer retries this after 20 ms too). The backoff still doubles up to 5 s.
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 20, maxRetryTime: 5000 },
    });
    try {
      await this.producer.connect();
    } catch (e) {
      throw kafkaError(e, this.site('connecting the transactional producer'));
    }
    this.log.info({ topic: this.topic }, 'publishing to Kafka');
  }

  async publish(tick: number, groups: AsyncIterable<EncodedFrame[]>): Promise<void> {
    if (!this.producer) throw new Error('KafkaPublisher.start() was not called');
    let tx;
    try {
      tx = await this.producer.transaction();
    } catch (e) {
      throw kafkaError(e, this.site(`beginning a transaction for tick ${tick}`));
    }
    let inTx = 0;
    try {
      for await (const frames of groups) {
        // kafkajs puts one send() into one record batch, and the broker limits a batch like a
        // message (message.max.bytes): so one send() carries at most maxFrameBytes of frames
        for (const part of bySize(frames, this.cfg.maxFrameBytes)) {
          // a batch larger than maxTransactionBytes (one source transaction of millions of rows)
          // goes out in several Kafka transactions, so none nears the broker's transaction
          // timeout: safe, because the positions were stamped before publishing (a forwarder that
          // dies between the parts publishes the whole batch again and appliers drop what they
          // have), and an applier applies a source transaction only once all of it is in
          if (inTx >= this.cfg.maxTransactionBytes) {
            await tx.commit();
            tx = await this.producer.transaction();
            inTx = 0;
          }
          inTx += part.reduce((n, f) => n + f.body.length, 0);
          await tx.send({
            topic: this.topic,
            acks: -1,
            messages: part.map((f) => ({
              key: f.origin,
              value: f.body,
              headers: { tick: String(tick), firstPos: String(f.firstPos), lastPos: String(f.lastPos) },
            })),
          });
        }
      }
      await tx.commit();
    } catch (e) {
      await tx.abort().catch(() => undefined);
      // the forwarder's own errors (raised while the frames were read: the change table lost rows,
      // positions not dense) come through as they are, never as a retriable transport error
      throw kafkaError(e, this.site(`publishing tick ${tick} to Kafka topic ${this.topic}`));
    }
  }

  private site(what: string) {
    return { what: `origin ${this.origin}: ${what}`, topic: this.topic, transactionalId: kafkaTransactionalId(this.cfg.topicPrefix, this.origin) };
  }

  async stop(): Promise<void> {
    await this.producer?.disconnect().catch(() => undefined);
    this.producer = undefined;
  }
}

function* bySize(frames: EncodedFrame[], max: number): Generator<EncodedFrame[]> {
  let part: EncodedFrame[] = [];
  let size = 0;
  for (const f of frames) {
    const len = Buffer.byteLength(f.body) + 64;
    if (part.length && size + len > max) {
      yield part;
      part = [];
      size = 0;
    }
    part.push(f);
    size += len;
  }
  if (part.length) yield part;
}
