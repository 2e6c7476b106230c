import {
  CreateQueueCommand,
  GetQueueUrlCommand,
  SendMessageBatchCommand,
  SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SqsConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import type { EncodedFrame } from '../protocol/envelope';
import { FerryError } from '../common/errors';
import { backoff } from '../common/retry';
import { sleep } from '../common/sleep';
import type { Publisher } from './types';
import { sqsQueueName } from './names';

// Ferry supports the Node versions its package names; the SDK's notice about future releases is a
// multi-line warning on stderr that would break Ferry's one-line errors
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export function sqsClient(cfg: SqsConfig, limits: { maxAttempts?: number; connectionTimeout?: number; requestTimeout?: number } = {}): SQSClient {
  return new SQSClient({
    region: cfg.region,
    endpoint: cfg.endpoint,
    credentials: cfg.accessKeyId && cfg.secretAccessKey ? { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey } : undefined,
    maxAttempts: limits.maxAttempts ?? 5,
    // no call may hang for good (a dropped connection would stall the stream silently); the
    // longest legitimate call is a 20 s long poll
    requestHandler: { connectionTimeout: limits.connectionTimeout ?? 5_000, requestTimeout: limits.requestTimeout ?? 45_000 },
  });
}

export async function ensureQueue(client: SQSClient, name: string, visibilityTimeoutSeconds: number): Promise<string> {
  try {
    const r = await client.send(new GetQueueUrlCommand({ QueueName: name }));
    if (r.QueueUrl) return r.QueueUrl;
  } catch (e) {
    if (!/NonExistentQueue|QueueDoesNotExist/i.test((e as Error).name + (e as Error).message)) throw e;
  }
  const r = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        FifoQueue: 'true',
        ContentBasedDeduplication: 'false',
        VisibilityTimeout: String(visibilityTimeoutSeconds),
        MessageRetentionPeriod: '1209600', // 14 days, the most SQS keeps
      },
    }),
  );
  if (!r.QueueUrl) throw new FerryError(`CreateQueue ${name} returned no URL`);
  return r.QueueUrl;
}

const byteLen = (s: string) => Buffer.byteLength(s, 'utf8');

/**
 * Sends each batch to one FIFO queue per destination DC. MessageGroupId = origin keeps the order;
 * MessageDeduplicationId = origin + first and last position (+ chunk index and count for a chunk)
 * makes a re-publish after a crash a no-op for five minutes; a frame cut differently on the re-publish
 * (another frame size) gets another id, so it is delivered, never silently dropped as a duplicate
 * (the applier drops what it already applied by position).
 */
export class SqsPublisher implements Publisher {
  readonly kind = 'sqs';
  private readonly client: SQSClient;
  private urls: string[] = [];

  constructor(private readonly cfg: SqsConfig, private readonly origin: string, private readonly destinations: string[], private readonly log: Logger) {
    this.client = sqsClient(cfg);
  }

  async start(): Promise<void> {
    if (!this.destinations.length) this.log.warn('no destinations configured (peers/destinations): batches will be marked published without being sent anywhere');
    this.urls = [];
    for (const d of this.destinations) {
      this.urls.push(await ensureQueue(this.client, sqsQueueName(this.cfg.queuePrefix, this.origin, d), this.cfg.visibilityTimeoutSeconds));
    }
  }

  async publish(tick: number, groups: AsyncIterable<EncodedFrame[]>): Promise<void> {
    for await (const frames of groups) {
      // destinations in parallel; inside one queue, calls go in order
      await Promise.all(this.urls.map((url) => this.sendInOrder(url, tick, frames)));
    }
  }

  private async sendInOrder(url: string, tick: number, frames: EncodedFrame[]): Promise<void> {
    let batch: SendMessageBatchRequestEntry[] = [];
    let size = 0;
    for (const f of frames) {
      const len = byteLen(f.body);
      if (batch.length && (batch.length === 10 || size + len > this.cfg.maxBatchBytes)) {
        await this.sendBatch(url, tick, batch);
        batch = [];
        size = 0;
      }
      batch.push({
        Id: String(batch.length),
        MessageBody: f.body,
        MessageGroupId: f.origin,
        MessageDeduplicationId: f.dedupId,
      });
      size += len;
    }
    if (batch.length) await this.sendBatch(url, tick, batch);
  }

  private async sendBatch(url: string, tick: number, entries: SendMessageBatchRequestEntry[]): Promise<void> {
    let todo = entries;
    for (let attempt = 1; ; attempt++) {
      let failed;
      try {
        const r = await this.client.send(new SendMessageBatchCommand({ QueueUrl: url, Entries: todo }));
        failed = r.Failed ?? [];
      } catch (e) {
        throw new FerryError(`SendMessageBatch to ${url} failed for tick ${tick}: ${(e as Error).message}`, { retriable: true, cause: e });
      }
      if (!failed.length) return;
      const ids = new Set(failed.map((f) => f.Id));
      const why = failed.map((f) => `${f.Code}: ${f.Message}`).join('; ');
      if (attempt >= 5 || failed.some((f) => f.SenderFault)) {
        throw new FerryError(`SQS refused ${failed.length} message(s) of tick ${tick} on ${url}: ${why}`, { retriable: !failed.some((f) => f.SenderFault) });
      }
      this.log.warn({ url, tick, failed: failed.length }, `retrying entries SQS did not take: ${why}`);
      // the same deduplication ids: entries that did land are not duplicated
      todo = todo.filter((e) => ids.has(e.Id));
      await sleep(backoff(attempt));
    }
  }

  async stop(): Promise<void> {
    this.client.destroy();
  }
}

/** Whether a queue exists (its origin's forwarder creates it for each destination it knows). */
export async function queueExists(cfg: SqsConfig, name: string): Promise<boolean> {
  const client = sqsClient(cfg);
  try {
    const r = await client.send(new GetQueueUrlCommand({ QueueName: name }));
    return !!r.QueueUrl;
  } catch (e) {
    if (/NonExistentQueue|QueueDoesNotExist/i.test((e as Error).name + (e as Error).message)) return false;
    throw e;
  } finally {
    client.destroy();
  }
}
