// Kafka errors sorted like the SQS ones (issue 11): what retrying cannot fix stops with the fix named,
// what a broker coming back fixes is retried. The errors are kafkajs's own classes, built the way
// kafkajs builds them (a protocol error, wrapped by its retrier when it gives up).
import * as kafkajs from 'kafkajs';
import { ConfigError, FencedError, FerryError, isRetriable, ServiceError } from '../../src/common/errors';
import { kafkaError, kafkaErrorTypes } from '../../src/transport/kafka-errors';

// kafkajs exports these classes but its type declarations miss some and some constructor options
type Ctor = new (...args: unknown[]) => Error;
const k = kafkajs as unknown as Record<string, Ctor>;
const { KafkaJSAggregateError, KafkaJSConnectionError, KafkaJSCreateTopicError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError, KafkaJSRequestTimeoutError, KafkaJSSASLAuthenticationError } = k;

const site = { what: 'origin dc-a: publishing tick 7 to Kafka topic ferry.dc-a', topic: 'ferry.dc-a', groupId: 'ferry.dc-a.dc-b', transactionalId: 'ferry.dc-a' };

/** A broker's error answer, as kafkajs makes it from the error code table. */
const protocol = (type: string, retriable: boolean) => new KafkaJSProtocolError({ type, code: 0, retriable, message: `broker says ${type}` });
/** What kafkajs's retrier throws when it bails out on a non-retriable error. */
const bailed = (e: Error) => new KafkaJSNonRetriableError(e, { cause: e });

describe('kafkaError', () => {
  it.each([
    ['TOPIC_AUTHORIZATION_FAILED', /may not use topic ferry\.dc-a: grant it Describe and Write/],
    ['CLUSTER_AUTHORIZATION_FAILED', /IdempotentWrite.*grant it on the cluster/],
    ['TRANSACTIONAL_ID_AUTHORIZATION_FAILED', /may not use transactional id ferry\.dc-a: grant it Describe and Write/],
    ['GROUP_AUTHORIZATION_FAILED', /consumer group ferry\.dc-a\.dc-b: grant it Read/],
    ['INVALID_TRANSACTION_TIMEOUT', /transaction\.max\.timeout\.ms.*900000/],
    ['INVALID_RECORD', /give Ferry a plain topic/],
    ['POLICY_VIOLATION', /create it yourself with one partition/],
    ['INVALID_CONFIG', /create the topic yourself/],
  ])('%s stops Ferry (exit 3) naming the fix', (type, fix) => {
    for (const raw of [protocol(type, false), bailed(protocol(type, false))]) {
      const e = kafkaError(raw, site);
      expect(e).toBeInstanceOf(ServiceError);
      expect(isRetriable(e)).toBe(false);
      expect(e.message).toContain(`publishing tick 7 to Kafka topic ferry.dc-a failed (${type})`);
      expect(e.message).toMatch(fix);
      expect((e as Error & { cause?: unknown }).cause).toBe(raw);
    }
  });

  it.each(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE'])('%s is a configuration error (exit 2) naming transport.maxFrameBytes and its variable', (type) => {
    const e = kafkaError(bailed(protocol(type, false)), site);
    expect(e).toBeInstanceOf(ConfigError);
    expect(isRetriable(e)).toBe(false);
    expect(e.message).toMatch(/transport\.maxFrameBytes \(FERRY_TRANSPORT__MAX_FRAME_BYTES\).*max\.message\.bytes/);
  });

  it('a topic the cluster refuses to create, inside kafkajs\'s aggregate of per-topic errors', () => {
    const agg = new KafkaJSAggregateError('Topic creation errors', [new KafkaJSCreateTopicError(protocol('TOPIC_AUTHORIZATION_FAILED', false), 'ferry.dc-a')]);
    expect(kafkaErrorTypes(agg)).toEqual(['TOPIC_AUTHORIZATION_FAILED']);
    expect(kafkaError(agg, site)).toBeInstanceOf(ServiceError);
  });

  it('SASL credentials refused (kafkajs names the class, not a type)', () => {
    const e = kafkaError(new KafkaJSSASLAuthenticationError('SASL PLAIN authentication failed'), site);
    expect(e).toBeInstanceOf(ServiceError);
    expect(e.message).toMatch(/refused the credentials/);
  });

  it.each([
    ['a lost connection', new KafkaJSConnectionError('Connection error: connect ECONNREFUSED 127.0.0.1:9092', { broker: '127.0.0.1:9092' })],
    ['a request timed out', new KafkaJSRequestTimeoutError('Request Produce(key: 0, version: 7) timed out')],
    ['no leader for the partition', bailed(protocol('LEADER_NOT_AVAILABLE', true))],
    ['a topic not known yet (just created)', protocol('UNKNOWN_TOPIC_OR_PARTITION', true)],
    ['kafkajs gave up retrying a connection', new KafkaJSNumberOfRetriesExceeded(new KafkaJSConnectionError('Connection timeout'), { retryCount: 8, retryTime: 5000 })],
    ['a coordinator moving', protocol('NOT_COORDINATOR', true)],
    ['anything unknown', new Error('something odd')],
  ])('%s stays retriable (the shared retry policy waits and tries again)', (_what, raw) => {
    const e = kafkaError(raw, site);
    expect(e).not.toBeInstanceOf(ServiceError);
    expect(e).not.toBeInstanceOf(ConfigError);
    expect(isRetriable(e)).toBe(true);
    expect(e.message).toContain('publishing tick 7 to Kafka topic ferry.dc-a failed: ');
  });

  it.each(['INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED'])('%s: another forwarder took over (the leader loop stands down)', (type) => {
    const e = kafkaError(bailed(protocol(type, false)), site);
    expect(e).toBeInstanceOf(FencedError);
    expect(e.message).toMatch(/took over the Kafka transactional id ferry\.dc-a/);
  });

  it("the forwarder's own integrity errors pass through unchanged: never retried as a transport error", () => {
    const own = new FerryError('tick 9 was stamped with 3 changes but 2 were read: the change table lost rows');
    expect(kafkaError(own, site)).toBe(own);
    expect(isRetriable(kafkaError(own, site))).toBe(false);
  });

});
