import { ConfigError, FencedError, FerryError, ServiceError } from '../common/errors';

/**
 * Kafka errors sorted the way the SQS transport sorts its own (a sender fault stops, a server that
 * does not answer is retried): an error that retrying cannot fix — a permission the principal lacks,
 * a frame larger than the topic takes, a setting the broker refuses — stops Ferry with one message
 * naming the fix, instead of going round the retry loop for ever at warn level. Everything else
 * (connection lost, leader not available, request timed out, a coordinator moving) stays retriable
 * and goes through the shared retry policy (common/retry.ts).
 */

/** Where the error happened, for the message: the topic and, when relevant, group or transactional id. */
export interface KafkaSite {
  /** What Ferry was doing: "publishing tick 812 to Kafka topic ferry.dc-a". */
  what: string;
  topic: string;
  groupId?: string;
  transactionalId?: string;
}

/** The Kafka error types (kafkajs `type`) that need an operator, with the fix for each. */
const FIXES: Record<string, (s: KafkaSite) => string> = {
  TOPIC_AUTHORIZATION_FAILED: (s) =>
    `the Kafka principal Ferry connects as may not use topic ${s.topic}: grant it Describe and Write (forwarder), Describe and Read (applier), and Create on the topic or the cluster (or create the topic yourself with one partition)`,
  GROUP_AUTHORIZATION_FAILED: (s) => `the Kafka principal Ferry connects as may not use consumer group ${s.groupId ?? '(this DC\'s group)'}: grant it Read on that group`,
  CLUSTER_AUTHORIZATION_FAILED: () =>
    'the Kafka principal Ferry connects as lacks a cluster permission (IdempotentWrite for the idempotent producer, Create to make topics): grant it on the cluster',
  TRANSACTIONAL_ID_AUTHORIZATION_FAILED: (s) =>
    `the Kafka principal Ferry connects as may not use transactional id ${s.transactionalId ?? '(this origin\'s)'}: grant it Describe and Write on that transactional id`,
  SASL_AUTHENTICATION_FAILED: () => 'the Kafka brokers refused the credentials: correct them',
  MESSAGE_TOO_LARGE: (s) =>
    `a frame is larger than topic ${s.topic} takes (its max.message.bytes, or the broker's message.max.bytes): set transport.maxFrameBytes (FERRY_TRANSPORT__MAX_FRAME_BYTES) below that limit, or raise the topic's max.message.bytes`,
  RECORD_LIST_TOO_LARGE: (s) =>
    `a batch of frames is larger than topic ${s.topic} takes (its max.message.bytes, or the broker's message.max.bytes): set transport.maxFrameBytes (FERRY_TRANSPORT__MAX_FRAME_BYTES) below that limit, or raise the topic's max.message.bytes`,
  INVALID_RECORD: (s) => `the broker refused a record for topic ${s.topic} (a topic or broker policy, such as a compacted topic without keys): give Ferry a plain topic with one partition`,
  INVALID_TRANSACTION_TIMEOUT: () =>
    "the broker's transaction.max.timeout.ms is below the 15 minutes Ferry's producer asks for: raise it to at least 900000",
  INVALID_REPLICATION_FACTOR: (s) => `the cluster refused to create topic ${s.topic} with its default replication factor: create the topic yourself with one partition`,
  INVALID_CONFIG: (s) => `the cluster refused the configuration of topic ${s.topic}: create the topic yourself with one partition`,
  POLICY_VIOLATION: (s) => `a policy of the cluster refused topic ${s.topic}: create it yourself with one partition, or allow it`,
  UNSUPPORTED_VERSION: () => 'the Kafka brokers do not speak a protocol version Ferry needs (transactions, idempotent producer): use Kafka 0.11 or newer, 2.x or newer recommended',
};

/** kafkajs error names that mean the same as a type above. */
const NAMED: Record<string, string> = {
  KafkaJSSASLAuthenticationError: 'SASL_AUTHENTICATION_FAILED',
  KafkaJSServerDoesNotSupportApiKey: 'UNSUPPORTED_VERSION',
};

/** Fixed by a key of Ferry's configuration (transport.maxFrameBytes). */
const IN_CONFIG = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);

const FENCED = new Set(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

/** The kafkajs error types on this error, its causes and (for an aggregate) its parts. */
export function kafkaErrorTypes(err: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>();
  const walk = (e: unknown, depth: number) => {
    if (!e || typeof e !== 'object' || seen.has(e) || depth > 8) return;
    seen.add(e);
    const x = e as { type?: unknown; name?: unknown; cause?: unknown; originalError?: unknown; errors?: unknown };
    if (typeof x.type === 'string') out.push(x.type);
    if (typeof x.name === 'string' && NAMED[x.name]) out.push(NAMED[x.name]);
    walk(x.cause, depth + 1);
    walk(x.originalError, depth + 1);
    if (Array.isArray(x.errors)) for (const p of x.errors) walk(p, depth + 1);
  };
  walk(err, 0);
  return [...new Set(out)];
}

/**
 * The Ferry error for a failed Kafka call: a FerryError that is already Ferry's (the forwarder's own
 * integrity checks, raised while the frames were read) is passed on as it is; fencing is a
 * FencedError (another forwarder of this origin took over); a type in FIXES stops with a
 * ConfigError or ServiceError naming the fix (never retriable); anything else is retriable.
 */
export function kafkaError(err: unknown, site: KafkaSite): FerryError {
  if (err instanceof FerryError) return err;
  const types = kafkaErrorTypes(err);
  const msg = (err as Error | null)?.message ?? String(err);
  if (types.some((t) => FENCED.has(t)) || /PRODUCER_FENCED|INVALID_PRODUCER_EPOCH|ProducerFenced/i.test(`${(err as Error | null)?.name} ${msg}`)) {
    return new FencedError(`${site.what}: another forwarder took over the Kafka transactional id ${site.transactionalId ?? ''}`.trimEnd(), { cause: err });
  }
  const fatal = types.find((t) => FIXES[t]);
  if (!fatal) return new FerryError(`${site.what} failed: ${msg}`, { retriable: true, cause: err });
  const text = `${site.what} failed (${fatal}): ${FIXES[fatal](site)}`;
  // a limit Ferry's own configuration can meet is a configuration error (exit 2); the rest is the service's (exit 3)
  return IN_CONFIG.has(fatal) ? new ConfigError(text, { cause: err }) : new ServiceError(text, { cause: err });
}
