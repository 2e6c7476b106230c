import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import type { Publisher, Subscriber } from './types';
import { KafkaPublisher } from './kafka';
import { KafkaSubscriber } from './kafka-subscriber';
import { SqsPublisher } from './sqs';
import { SqsSubscriber } from './sqs-subscriber';

export type { Delivery, Publisher, Subscriber } from './types';

/**
 * The one place that turns configuration into a transport: the CLI, the sidecar, the tests and the
 * benchmarks take publishers and subscribers from here, and nothing else names Kafka or SQS.
 */
export function publisherFor(cfg: FerryConfig, log: Logger): Publisher {
  const t = cfg.transport;
  const l = log.child({ role: 'publisher' });
  return t.kind === 'kafka' ? new KafkaPublisher(t, cfg.origin, l) : new SqsPublisher(t, cfg.origin, cfg.destinations, l);
}

/** The subscriber through which this DC (cfg.origin) receives the changes of `origin`. */
export function subscriberFor(cfg: FerryConfig, origin: string, log: Logger): Subscriber {
  const t = cfg.transport;
  return t.kind === 'kafka' ? new KafkaSubscriber(t, origin, cfg.origin, log) : new SqsSubscriber(t, origin, cfg.origin, log);
}
