import type { Consumer, EachBatchPayload, Kafka } from 'kafkajs';
import type { KafkaConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import { FerryError } from '../common/errors';
import { backoff } from '../common/retry';
import { sleep } from '../common/sleep';
import type { Delivery, Subscriber } from './types';
import { ensureTopic, kafkaClient } from './kafka';
import { kafkaError } from './kafka-errors';
import { kafkaGroupId, kafkaTopic } from './names';

/** An origin's topic has exactly one partition (DESIGN.md §5): its offsets are the stream's order. */
const PARTITION = 0;
/** kafkajs's default; the session timeout (10 s, below) allows about three missed beats. */
const HEARTBEAT_MS = 3_000;
/** How often a slow handler offers a heartbeat (kafkajs sends one only when HEARTBEAT_MS has passed). */
const BEAT_CHECK_MS = 1_000;
/** How long a fetch waits for new messages: bounds how long stop() waits for an idle fetch. */
const FETCH_WAIT_MS = 1_000;
/**
 * How much one fetch may bring: each fetch is decoded whole before the applier can push back, so it
 * bounds the applier's memory (4 MB of frames is some 10k changes, two groups' worth; 16 MB took
 * the applier past 256 MB RSS in a 1M-row source transaction).
 */
const FETCH_MAX_BYTES = 4 * 1024 * 1024;

/**
 * Reads one origin's topic for this DC, with this DC's own consumer group and read-committed
 * isolation (the forwarder publishes in transactions, so aborted batches are never seen).
 *
 * Position: the destination database holds the authoritative one (the offset stored next to the
 * applied position). When start() gets it, the consumer seeks to the offset after it every time it
 * joins the group; the seek is issued from the GROUP_JOIN event, which kafkajs emits synchronously
 * after the assignment and before its first fetch, so no batch from the group's committed offset
 * can slip through first (a seek issued after run() resolves races the first fetch), and a
 * rebalance later resumes from what was handed over, not from an older commit. The group's
 * committed offset is only used when no position was given, and ack() only moves it for monitoring.
 *
 * A handler that throws gets the same messages again after a backoff. Do not await stop() inside
 * the handler: stop() waits for the running handler to finish.
 */
export class KafkaSubscriber implements Subscriber {
  readonly kind = 'kafka';
  readonly blocksWhileUnacked = false;
  private readonly kafka: Kafka;
  private readonly topic: string;
  private readonly groupId: string;
  private readonly log: Logger;
  private consumer?: Consumer;
  /** The offset to fetch next once the group is joined; unset until known (then the group decides). */
  private next?: bigint;
  /** The last batch handed over: its last message, and the offset after its trailing control record. */
  private lastBatch?: { last: bigint; end: bigint };
  /** Where rewind() goes back to: after the last ack, else where this subscriber started. */
  private rewindTo?: bigint;
  /** Bumped by rewind(): a batch handled across a rewind must not move the position forward. */
  private rewinds = 0;
  private failures = 0;
  private readonly stopping = new AbortController();
  /** The offset acked while a commit was in flight: it goes next. */
  private commitWanted?: bigint;
  /** The group offset commit in flight, if any. */
  private committing?: Promise<void>;

  constructor(cfg: KafkaConfig, private readonly origin: string, dc: string, log: Logger) {
    this.topic = kafkaTopic(cfg.topicPrefix, origin);
    this.groupId = kafkaGroupId(cfg.topicPrefix, origin, dc);
    this.log = log.child({ role: 'subscriber', transport: 'kafka', from: origin });
    this.kafka = kafkaClient(cfg, this.log, `apply-${dc}-from-${origin}`);
  }

  async start(handle: (batch: Delivery[]) => Promise<void>, resumeFrom?: string): Promise<void> {
    if (this.consumer) throw new FerryError(`the Kafka subscriber of ${this.topic} is already started`);
    if (resumeFrom !== undefined) {
      if (!/^\d+$/.test(resumeFrom)) throw new FerryError(`resumeFrom must be a Kafka offset (a non-negative integer), got ${JSON.stringify(resumeFrom)}`);
      this.next = BigInt(resumeFrom) + 1n;
      this.rewindTo = this.next;
    }
    const consumer = this.kafka.consumer({
      groupId: this.groupId,
      readUncommitted: false,
      heartbeatInterval: HEARTBEAT_MS,
      maxWaitTimeInMs: FETCH_WAIT_MS,
      // a fetch brings many frames at once (kafkajs's 1 MB default is two or three of them)
      maxBytesPerPartition: FETCH_MAX_BYTES,
      maxBytes: FETCH_MAX_BYTES,
      // only the applier leader of (DC, origin) ever joins; a member still in the group is a
      // crashed leader, and the new one waits out its session before it gets the partition
      sessionTimeout: 10_000,
      rebalanceTimeout: 10_000,
    });
    try {
      // an applier may start before its origin's forwarder ever published
      await ensureTopic(this.kafka, this.topic);
      await this.checkOnePartition();
      consumer.on(consumer.events.GROUP_JOIN, () => this.seekOnJoin(consumer));
      await consumer.connect();
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      this.consumer = consumer;
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: (payload) => this.onBatch(payload, handle),
      });
    } catch (e) {
      this.consumer = undefined;
      await consumer.disconnect().catch(() => undefined);
      throw kafkaError(e, { what: `subscribing to Kafka topic ${this.topic} as group ${this.groupId}`, topic: this.topic, groupId: this.groupId });
    }
    this.log.info({ topic: this.topic, groupId: this.groupId, resumeAt: this.next?.toString() ?? 'group offset' }, 'consuming from Kafka');
  }

  /** Commits the offset after the newest of these deliveries to the group, behind the caller (below). */
  async ack(deliveries: Delivery[]): Promise<void> {
    if (!deliveries.length) return;
    let last = -1n;
    for (const d of deliveries) {
      if (d.offset === undefined) throw new FerryError(`ack on ${this.topic}: a delivery without a Kafka offset`);
      const o = BigInt(d.offset);
      if (o > last) last = o;
    }
    const consumer = this.consumer;
    if (!consumer) {
      this.log.debug({ offset: last.toString() }, 'ack after stop: not committed (the destination database holds the position)');
      return;
    }
    // past the transaction marker that follows the batch, so an idle group shows no lag
    const offset = this.lastBatch?.last === last ? this.lastBatch.end : last + 1n;
    if (this.rewindTo === undefined || offset > this.rewindTo) this.rewindTo = offset;
    // the destination holds the position; the group's offset shows progress and is where a group
    // without one would start. So the applier does not wait for it (an OffsetCommit took 8–20 ms p50
    // at 2 000 changes/s, on the way of every group), and while one is in flight only the newest
    // offset waits to go next: one commit per round trip, not one per group. stop() sends the last.
    this.commitWanted = offset;
    this.committing ??= this.commitInBackground(consumer);
  }

  private async commitInBackground(consumer: Consumer): Promise<void> {
    try {
      while (this.commitWanted !== undefined) {
        const offset = this.commitWanted;
        this.commitWanted = undefined;
        try {
          await consumer.commitOffsets([{ topic: this.topic, partition: PARTITION, offset: offset.toString() }]);
        } catch (e) {
          const err = kafkaError(e, { what: `committing offset ${offset} of ${this.topic} for group ${this.groupId}`, topic: this.topic, groupId: this.groupId });
          this.log.warn({ err }, 'the group offset was not committed (it only shows progress: the destination database holds the position); the next ack commits a newer one');
        }
      }
    } finally {
      this.committing = undefined;
    }
  }

  /** Delivers again from the offset after the last ack (or from where this subscriber started). */
  async rewind(): Promise<void> {
    const consumer = this.consumer;
    const to = this.rewindTo;
    if (!consumer || to === undefined) return; // nothing handed over yet: nothing to repeat
    this.rewinds++;
    this.next = to;
    this.lastBatch = undefined;
    try {
      // applied before the next fetch; a batch fetched before it is dropped by kafkajs as stale
      consumer.seek({ topic: this.topic, partition: PARTITION, offset: to.toString() });
    } catch (e) {
      throw new FerryError(`rewinding ${this.topic} to offset ${to} failed: ${(e as Error).message}`, { retriable: true, cause: e });
    }
    this.log.warn({ offset: to.toString() }, 'rewound: delivering again from the offset after the last ack');
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    const consumer = this.consumer;
    this.consumer = undefined;
    if (!consumer) return;
    // what was acked is committed before the group is left: a subscriber without a stored
    // position resumes after it
    await this.committing;
    try {
      // leaves the group, so a successor joins at once instead of after the session timeout
      await consumer.disconnect();
    } catch (e) {
      this.log.warn({ err: e }, 'disconnecting the Kafka consumer failed');
    }
  }

  private seekOnJoin(consumer: Consumer): void {
    if (this.next === undefined) {
      this.log.info('joined the group: resuming at its committed offset (or the beginning)');
      return;
    }
    try {
      consumer.seek({ topic: this.topic, partition: PARTITION, offset: this.next.toString() });
      this.log.info({ offset: this.next.toString() }, 'joined the group: resuming after the last applied offset');
    } catch (e) {
      this.log.error({ err: e, offset: this.next.toString() }, 'seeking after the group join failed');
    }
  }

  private async onBatch(p: EachBatchPayload, handle: (batch: Delivery[]) => Promise<void>): Promise<void> {
    const { batch } = p;
    if (!batch.messages.length || !p.isRunning() || p.isStale()) return;
    const deliveries: Delivery[] = batch.messages.map((m) => ({ body: m.value?.toString('utf8') ?? '', origin: this.origin, offset: m.offset }));
    const last = batch.messages[batch.messages.length - 1].offset;
    this.rewindTo ??= BigInt(batch.messages[0].offset);
    const rewinds = this.rewinds;
    // kafkajs does not heartbeat while eachBatch runs: a slow apply must not get the member evicted
    const beat = setInterval(() => p.heartbeat().catch((e) => this.log.debug({ err: e }, 'heartbeat during a slow handler failed')), BEAT_CHECK_MS);
    try {
      await handle(deliveries);
    } catch (e) {
      this.failures++;
      const wait = backoff(this.failures);
      this.log.error({ err: e, firstOffset: batch.firstOffset(), count: deliveries.length }, `handler failed; the same messages come again in ${wait} ms`);
      // not resolving the offset makes the next fetch start at this batch again
      await sleep(wait, this.stopping.signal);
      return;
    } finally {
      clearInterval(beat);
    }
    this.failures = 0;
    if (rewinds !== this.rewinds) return; // rewound meanwhile: the seek decides where to go on
    p.resolveOffset(last); // kafkajs also resolves a trailing transaction marker with it
    const end = BigInt(batch.lastOffset()) + 1n;
    this.next = end;
    this.lastBatch = { last: BigInt(last), end };
  }

  private async checkOnePartition(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [this.topic] });
      const n = topics[0]?.partitions.length ?? 0;
      if (n !== 1) {
        throw new FerryError(`Kafka topic ${this.topic} has ${n} partitions; Ferry needs exactly one per origin to keep its changes in order`);
      }
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }
}
