import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import type { Publisher, Subscriber } from './types';
import { sqsQueueName } from './names';

// Each transport's client library is loaded only when that transport is used: loading both made
// every ferry process (and every CLI command) start slower by the one it never uses (the AWS SDK:
// ~0.15 s; kafkajs less).
/* eslint-disable @typescript-eslint/no-require-imports */
const kafka = () => require('./kafka') as typeof import('./kafka');
const kafkaSubscriber = () => require('./kafka-subscriber') as typeof import('./kafka-subscriber');
const sqs = () => require('./sqs') as typeof import('./sqs');
const sqsSubscriber = () => require('./sqs-subscriber') as typeof import('./sqs-subscriber');
/* eslint-enable @typescript-eslint/no-require-imports */

export type { Delivery, Publisher, Subscriber } from './types';

/**
 * The one place that turns configuration into a transport: the CLI, the sidecar, the tests and the
 * benchmarks take publishers and subscribers from here, and nothing else names Kafka or SQS.
 */
export function publisherFor(cfg: FerryConfig, log: Logger): Publisher {
  const t = cfg.transport;
  const l = log.child({ role: 'publisher' });
  return t.kind === 'kafka' ? new (kafka().KafkaPublisher)(t, cfg.origin, l) : new (sqs().SqsPublisher)(t, cfg.origin, cfg.destinations, l);
}

/** The subscriber through which this DC (cfg.origin) receives the changes of `origin`. */
export function subscriberFor(cfg: FerryConfig, origin: string, log: Logger): Subscriber {
  const t = cfg.transport;
  return t.kind === 'kafka' ? new (kafkaSubscriber().KafkaSubscriber)(t, origin, cfg.origin, log) : new (sqsSubscriber().SqsSubscriber)(t, origin, cfg.origin, log);
}

/**
 * Whether the transport already keeps `origin`'s stream for this DC from now on, so a DC that starts
 * applying later misses nothing: a Kafka topic keeps everything for every reader; an SQS queue
 * exists only once the origin's forwarder knows this DC (its peers/destinations) and has started.
 * null when it does, else what to do.
 */
export async function streamKeptProblem(cfg: FerryConfig, origin: string): Promise<string | null> {
  const t = cfg.transport;
  if (t.kind === 'kafka') return null;
  const name = sqsQueueName(t.queuePrefix, origin, cfg.origin);
  if (await sqs().queueExists(t, name)) return null;
  return `${origin} does not send to ${cfg.origin} yet (queue ${name} does not exist): add ${cfg.origin} to ${origin}'s peers (or destinations) and restart its \`ferry run\`, then run \`ferry bootstrap\` again`;
}
