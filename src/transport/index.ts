import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import type { Subscriber } from './types';
import { KafkaSubscriber } from './kafka-subscriber';
import { SqsSubscriber } from './sqs-subscriber';

export type { Delivery, Publisher, Subscriber } from './types';

/** The subscriber through which this DC (cfg.origin) receives the changes of `origin`. */
export function subscriberFor(cfg: FerryConfig, origin: string, log: Logger): Subscriber {
  const t = cfg.transport;
  return t.kind === 'kafka' ? new KafkaSubscriber(t, origin, cfg.origin, log) : new SqsSubscriber(t, origin, cfg.origin, log);
}
