import type { FerryConfig, KafkaConfig, SqsConfig } from '../config/schema';
import { ConfigError, ServiceError } from '../common/errors';
import { backoff } from '../common/retry';
import { sleep } from '../common/sleep';
import { kafkaError } from './kafka-errors';

/**
 * At start-up only: proves the transport's server answers within `startupTimeoutMs`, or fails with one
 * line naming the service, its address, the key (and variable) to fix and the key that sets the wait
 * (`ferry` exits 3). Once running, a server that goes away is retried by the publisher and
 * subscribers as before, for as long as it takes.
 */
export async function probeTransport(cfg: FerryConfig, stop?: AbortSignal): Promise<void> {
  const t = cfg.transport;
  const deadline = Date.now() + cfg.startupTimeoutMs;
  if (t.kind === 'kafka') await untilDeadline(deadline, stop, (left) => probeKafka(t, left), (why) => kafkaDown(t, cfg.startupTimeoutMs, why));
  else await untilDeadline(deadline, stop, (left) => probeSqs(t, left), (why) => sqsDown(t, cfg.startupTimeoutMs, why));
}

export const STARTUP_KEY = 'startupTimeoutMs (FERRY_STARTUP_TIMEOUT_MS)';

/** Tries `probe` until it succeeds, a non-retriable error, or the deadline; then `down(reason)`. */
async function untilDeadline(deadline: number, stop: AbortSignal | undefined, probe: (leftMs: number) => Promise<void>, down: (why: string) => Error): Promise<void> {
  let why = 'no answer';
  for (let attempt = 1; !stop?.aborted; attempt++) {
    const left = deadline - Date.now();
    if (left <= 0) throw down(why);
    try {
      return await probe(Math.max(100, left));
    } catch (e) {
      if (e instanceof ServiceError || e instanceof ConfigError) throw e;
      why = (e as Error).message.split('\n')[0];
    }
    await sleep(Math.min(backoff(attempt), Math.max(0, deadline - Date.now())), stop);
  }
}

async function probeKafka(t: KafkaConfig, leftMs: number): Promise<void> {
  // (loaded here, not at the top: a process that uses SQS never loads kafkajs, see index.ts)
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Kafka, logLevel } = require('kafkajs') as typeof import('kafkajs');
  const kafka = new Kafka({
    clientId: `${t.clientId}-probe`,
    brokers: t.brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: Math.min(5_000, leftMs),
    requestTimeout: Math.min(10_000, leftMs),
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    await admin.describeCluster();
  } catch (e) {
    // a broker that answers but refuses Ferry (credentials, permissions) needs an operator now
    const err = kafkaError(e, { what: `connecting to the Kafka broker(s) ${t.brokers.join(',')}`, topic: `${t.topicPrefix}.*` });
    throw err.retriable ? e : err;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

function kafkaDown(t: KafkaConfig, waitedMs: number, why: string): ServiceError {
  return new ServiceError(
    `cannot reach the Kafka broker(s) ${t.brokers.join(',')} (key transport.brokers, FERRY_TRANSPORT__BROKERS) within ${waitedMs} ms: ${why}: start Kafka, or correct the addresses; ${STARTUP_KEY} sets how long Ferry waits at start`,
  );
}

/** Errors of an SQS server that answered and refused Ferry: waiting does not help. */
const SQS_REFUSALS = /InvalidClientTokenId|SignatureDoesNotMatch|AccessDenied|UnrecognizedClient|InvalidAccessKeyId|AuthFailure|MissingAuthenticationToken|ExpiredToken/i;

async function probeSqs(t: SqsConfig, leftMs: number): Promise<void> {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { ListQueuesCommand } = require('@aws-sdk/client-sqs') as typeof import('@aws-sdk/client-sqs');
  const { sqsClient } = require('./sqs') as typeof import('./sqs');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const client = sqsClient(t, { maxAttempts: 1, connectionTimeout: Math.min(5_000, leftMs), requestTimeout: Math.min(10_000, leftMs) });
  try {
    await client.send(new ListQueuesCommand({ QueueNamePrefix: t.queuePrefix, MaxResults: 1 }));
  } catch (e) {
    const err = e as Error & { $metadata?: { httpStatusCode?: number } };
    const where = sqsAddress(t);
    if (err.name === 'CredentialsProviderError' || /Could not load credentials/i.test(err.message)) {
      throw new ConfigError(
        `no AWS credentials for SQS at ${where}: set transport.accessKeyId and transport.secretAccessKey (FERRY_TRANSPORT__ACCESS_KEY_ID, FERRY_TRANSPORT__SECRET_ACCESS_KEY), or provide them through the standard AWS chain (AWS_ACCESS_KEY_ID, a profile, a role)`,
      );
    }
    if (SQS_REFUSALS.test(`${err.name} ${err.message}`)) {
      throw new ServiceError(`SQS at ${where} refused Ferry's credentials (${err.name}): correct transport.accessKeyId / transport.secretAccessKey (or the AWS chain's), or grant them SQS access`);
    }
    throw e;
  } finally {
    client.destroy();
  }
}

function sqsAddress(t: SqsConfig): string {
  return t.endpoint ?? `the AWS endpoint of region ${t.region}`;
}

function sqsDown(t: SqsConfig, waitedMs: number, why: string): ServiceError {
  const key = t.endpoint ? 'key transport.endpoint, FERRY_TRANSPORT__ENDPOINT' : 'key transport.region, FERRY_TRANSPORT__REGION';
  return new ServiceError(
    `cannot reach the SQS server ${sqsAddress(t)} (${key}) within ${waitedMs} ms: ${why}: start it, or correct the address; ${STARTUP_KEY} sets how long Ferry waits at start`,
  );
}
