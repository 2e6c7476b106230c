import { randomUUID } from 'node:crypto';
import {
  BatchResultErrorEntry,
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SqsConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import { FerryError } from '../common/errors';
import { backoff } from '../common/retry';
import { sleep } from '../common/sleep';
import type { Delivery, Subscriber } from './types';
import { ensureQueue, sqsClient } from './sqs';
import { sqsQueueName } from './names';

/** The most messages one SQS batch call takes. */
const SQS_BATCH = 10;
/**
 * The visibility a receive asks for; it is raised to the configured timeout as soon as the messages
 * arrive. A long poll that stop() abandons still takes messages on the server (aws-sdk-js#2350, and
 * ElasticMQ alike), and in a FIFO queue they would block the whole origin stream for the full
 * timeout; this way a restart waits a few seconds at most.
 */
const RECEIVE_VISIBILITY_S = 5;

const chunks = <T>(xs: T[], n: number): T[][] => Array.from({ length: Math.ceil(xs.length / n) }, (_, i) => xs.slice(i * n, (i + 1) * n));
const why = (failed: BatchResultErrorEntry[]) => failed.map((f) => `${f.Code}: ${f.Message ?? ''}`).join('; ');

/**
 * Long-polls this DC's FIFO queue of one origin. A received message stays in flight until ack()
 * deletes it; until then its visibility is extended every third of the visibility timeout, so a
 * large batch that applies slowly is not redelivered mid-apply. FIFO keeps the rest of the origin's
 * group back while any of it is in flight, so the loop waits for acks by itself. (So a handler must
 * not wait for later messages before it resolves and acks: they cannot come.)
 *
 * stop() aborts the long poll, waits for a running handler, and makes unacked messages visible
 * again so a successor gets them at once.
 *
 * resumeFrom is ignored: SQS has no offsets; what was applied is deleted, and duplicates within
 * the visibility window are dropped by position at the destination.
 *
 * A handler that throws gets the same messages again after a backoff. Do not await stop() inside
 * the handler: stop() waits for the running handler to finish.
 */
export class SqsSubscriber implements Subscriber {
  readonly kind = 'sqs';
  readonly blocksWhileUnacked = true;
  private readonly client: SQSClient;
  private readonly queue: string;
  private readonly log: Logger;
  private url?: string;
  private loop?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private extending = false;
  private readonly abort = new AbortController();
  /** Received and not yet acked: receipt handle → message id (for logs). */
  private readonly inFlight = new Map<string, string>();

  constructor(private readonly cfg: SqsConfig, private readonly origin: string, dc: string, log: Logger) {
    this.queue = sqsQueueName(cfg.queuePrefix, origin, dc);
    this.log = log.child({ role: 'subscriber', transport: 'sqs', from: origin });
    this.client = sqsClient(cfg);
  }

  async start(handle: (batch: Delivery[]) => Promise<void>): Promise<void> {
    if (this.loop) throw new FerryError(`the SQS subscriber of ${this.queue} is already started`);
    try {
      // an applier may start before its origin's forwarder ever published
      this.url = await ensureQueue(this.client, this.queue, this.cfg.visibilityTimeoutSeconds);
    } catch (e) {
      throw new FerryError(`finding or creating SQS queue ${this.queue} failed: ${(e as Error).message}`, { retriable: true, cause: e });
    }
    const every = Math.max(1_000, Math.floor((this.cfg.visibilityTimeoutSeconds * 1_000) / 3));
    this.timer = setInterval(() => void this.extend(), every);
    this.loop = this.run(this.url, handle);
    this.log.info({ queue: this.queue }, 'consuming from SQS');
  }

  /** Deletes exactly these messages (pass every delivery that was applied). */
  async ack(deliveries: Delivery[]): Promise<void> {
    if (!deliveries.length) return;
    if (!this.url) throw new FerryError(`ack on ${this.queue} before start()`);
    const receipts = deliveries.map((d) => {
      if (!d.receipt) throw new FerryError(`ack on ${this.queue}: a delivery without an SQS receipt handle`);
      return d.receipt;
    });
    const failed: BatchResultErrorEntry[] = [];
    for (const part of chunks(receipts, SQS_BATCH)) {
      let r;
      try {
        r = await this.client.send(new DeleteMessageBatchCommand({ QueueUrl: this.url, Entries: part.map((h, i) => ({ Id: String(i), ReceiptHandle: h })) }));
      } catch (e) {
        throw new FerryError(`DeleteMessageBatch on ${this.queue} failed: ${(e as Error).message}`, { retriable: true, cause: e });
      }
      for (const ok of r.Successful ?? []) this.inFlight.delete(part[Number(ok.Id)]);
      for (const f of r.Failed ?? []) {
        // a stale receipt cannot be fixed by retrying: the message comes again and is dropped by position
        if (f.SenderFault) this.inFlight.delete(part[Number(f.Id)]);
        failed.push(f);
      }
    }
    if (failed.length) {
      const retriable = !failed.some((f) => f.SenderFault);
      throw new FerryError(
        `SQS did not delete ${failed.length} of ${receipts.length} applied message(s) from ${this.queue}: ${why(failed)}` +
          (retriable ? '' : ' (they will be delivered again and dropped as duplicates)'),
        { retriable },
      );
    }
  }

  /**
   * Makes every received but unacked message visible again: FIFO hands them out again, in order,
   * before anything after them.
   */
  async rewind(): Promise<void> {
    if (!this.url || !this.inFlight.size) return;
    const n = this.inFlight.size;
    await this.release([...this.inFlight.keys()]);
    this.log.warn({ queue: this.queue, count: n }, 'rewound: unacked messages are delivered again');
  }

  async stop(): Promise<void> {
    this.abort.abort(); // ends a long poll at once
    await this.loop?.catch(() => undefined); // waits for a running handler; visibility is still extended meanwhile
    this.loop = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    // hand back what was received but not applied, so a successor gets it now, not after the timeout
    if (this.url && this.inFlight.size) await this.release([...this.inFlight.keys()]);
    this.client.destroy();
  }

  private async run(url: string, handle: (batch: Delivery[]) => Promise<void>): Promise<void> {
    const signal = this.abort.signal;
    // the same id on a retry after a lost response returns the same messages instead of hiding them
    let attemptId = randomUUID();
    let receiveFailures = 0;
    let handlerFailures = 0;
    while (!signal.aborted) {
      let messages: Message[];
      try {
        const r = await this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: url,
            MaxNumberOfMessages: SQS_BATCH,
            WaitTimeSeconds: this.cfg.waitTimeSeconds,
            VisibilityTimeout: Math.min(RECEIVE_VISIBILITY_S, this.cfg.visibilityTimeoutSeconds),
            ReceiveRequestAttemptId: attemptId,
          }),
          { abortSignal: signal },
        );
        messages = r.Messages ?? [];
        attemptId = randomUUID();
        receiveFailures = 0;
      } catch (e) {
        if (signal.aborted) break;
        const wait = backoff(++receiveFailures);
        this.log.warn({ err: e, queue: this.queue }, `ReceiveMessage failed; trying again in ${wait} ms`);
        await sleep(wait, signal);
        continue;
      }
      if (!messages.length) continue;
      const deliveries: Delivery[] = messages.map((m) => ({ body: m.Body ?? '', origin: this.origin, receipt: m.ReceiptHandle }));
      for (const m of messages) if (m.ReceiptHandle) this.inFlight.set(m.ReceiptHandle, m.MessageId ?? '?');
      if (this.cfg.visibilityTimeoutSeconds > RECEIVE_VISIBILITY_S) void this.extend(deliveries.flatMap((d) => (d.receipt ? [d.receipt] : [])));
      try {
        await handle(deliveries);
        handlerFailures = 0;
      } catch (e) {
        const wait = backoff(++handlerFailures);
        this.log.error({ err: e, count: deliveries.length }, `handler failed; the same messages come again in ${wait} ms`);
        await this.release(deliveries.flatMap((d) => (d.receipt && this.inFlight.has(d.receipt) ? [d.receipt] : [])));
        await sleep(wait, signal);
      }
    }
  }

  /** Keeps unacked messages (all, or just received ones) invisible for another full visibility timeout. */
  private async extend(receipts?: string[]): Promise<void> {
    if (receipts) return this.changeVisibility(receipts, this.cfg.visibilityTimeoutSeconds, 'extending');
    if (this.extending || !this.url || !this.inFlight.size) return;
    this.extending = true;
    try {
      await this.changeVisibility([...this.inFlight.keys()], this.cfg.visibilityTimeoutSeconds, 'extending');
    } finally {
      this.extending = false;
    }
  }

  /** Makes messages visible again at once and stops tracking them. */
  private async release(receipts: string[]): Promise<void> {
    for (const h of receipts) this.inFlight.delete(h);
    await this.changeVisibility(receipts, 0, 'releasing');
  }

  private async changeVisibility(receipts: string[], seconds: number, what: string): Promise<void> {
    for (const part of chunks(receipts, SQS_BATCH)) {
      try {
        const r = await this.client.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: this.url,
            Entries: part.map((h, i) => ({ Id: String(i), ReceiptHandle: h, VisibilityTimeout: seconds })),
          }),
        );
        // an entry acked meanwhile fails harmlessly; the others are worth a word
        const failed = (r.Failed ?? []).filter((f) => seconds === 0 || this.inFlight.has(part[Number(f.Id)]));
        if (failed.length) this.log.warn({ queue: this.queue, failed: failed.length }, `${what} the visibility of ${failed.length} message(s) failed: ${why(failed)}`);
        for (const f of failed) if (f.SenderFault) this.inFlight.delete(part[Number(f.Id)]);
      } catch (e) {
        this.log.warn({ err: e, queue: this.queue }, `${what} the visibility of ${part.length} message(s) failed; they may be delivered again`);
      }
    }
  }
}
