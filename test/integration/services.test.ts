// Smoke tests: each real service is up and usable from Node the way Ferry will use it.
import { Client } from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { CreateQueueCommand, DeleteMessageCommand, DeleteQueueCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { services } from '../support/services';
import { uniq } from '../support/db';

const env = services();

describe('PostgreSQL: three clusters, one per DC', () => {
  it.each(['FERRY_DC_A_URL', 'FERRY_DC_B_URL', 'FERRY_DC_C_URL'] as const)('%s: a table is created, written and read back', async (v) => {
    const c = new Client({ connectionString: env[v] });
    await c.connect();
    try {
      const t = uniq('smoke_');
      await c.query(`create table ${t} (id int primary key, v text)`);
      await c.query(`insert into ${t} values (1, $1), (2, $2)`, ['ä😀', "o'q"]);
      const r = await c.query(`select v from ${t} order by id`);
      expect(r.rows.map((x) => x.v)).toEqual(['ä😀', "o'q"]);
      await c.query(`drop table ${t}`);
    } finally {
      await c.end();
    }
  });

  it('the three DCs are separate clusters (own system identifiers)', async () => {
    const ids = await Promise.all(
      (['FERRY_DC_A_URL', 'FERRY_DC_B_URL', 'FERRY_DC_C_URL'] as const).map(async (v) => {
        const c = new Client({ connectionString: env[v] });
        await c.connect();
        try {
          return (await c.query('select system_identifier::text as id from pg_control_system()')).rows[0].id as string;
        } finally {
          await c.end();
        }
      }),
    );
    expect(new Set(ids).size).toBe(3);
  });
});

describe('Kafka broker', () => {
  it('an idempotent, transactional producer publishes and a consumer reads the messages back in order', async () => {
    const kafka = new Kafka({ clientId: 'smoke', brokers: env.FERRY_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    const topic = uniq('smoke.');
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    await admin.disconnect();

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, transactionalId: uniq('smoke-tx-') });
    await producer.connect();
    const tx = await producer.transaction();
    await tx.send({ topic, acks: -1, messages: [{ value: 'one' }, { value: 'two' }, { value: 'three' }] });
    await tx.commit();
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniq('smoke-g-') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const got: string[] = [];
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only got ${JSON.stringify(got)}`)), 30000);
      void consumer.run({
        eachMessage: async ({ message }) => {
          got.push(message.value!.toString());
          if (got.length === 3) {
            clearTimeout(timer);
            resolve();
          }
        },
      });
    });
    await consumer.disconnect();
    expect(got).toEqual(['one', 'two', 'three']);
  });
});

describe('SQS server', () => {
  it('a FIFO queue delivers two sends with the same deduplication id once', async () => {
    const sqs = new SQSClient({ endpoint: env.FERRY_SQS_ENDPOINT, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `${uniq('smoke-')}.fifo`, Attributes: { FifoQueue: 'true' } }));
    try {
      for (const body of ['first', 'second']) {
        await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: body, MessageGroupId: 'g', MessageDeduplicationId: 'same-id' }));
      }
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'third', MessageGroupId: 'g', MessageDeduplicationId: 'other-id' }));
      const bodies: string[] = [];
      for (let i = 0; i < 5 && bodies.length < 3; i++) {
        const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60 }));
        for (const m of r.Messages ?? []) {
          bodies.push(m.Body!);
          // FIFO holds the rest of a group back while a message of it is in flight
          await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle }));
        }
      }
      expect(bodies).toEqual(['first', 'third']);
    } finally {
      await sqs.send(new DeleteQueueCommand({ QueueUrl }));
      sqs.destroy();
    }
  });
});
