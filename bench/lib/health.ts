// Are the services still there? Checked before every benchmark, so that a server that died (say,
// out of memory) stops the suite with its name instead of timing out run after run.
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Kafka, logLevel } from 'kafkajs';
import { sql } from './db';
import { services } from './paths';

async function check(name: string, fn: () => Promise<unknown>): Promise<string | undefined> {
  const timeout = new Promise<string>((r) => setTimeout(() => r(`${name}: no answer within 15 s`), 15_000).unref());
  return Promise.race([fn().then(() => undefined, (e: Error) => `${name}: ${e.message}`), timeout]);
}

/** The services that do not answer, each with why (empty when all do). */
export async function deadServices(): Promise<string[]> {
  const env = services();
  const checks = [
    ...(['FERRY_DC_A_URL', 'FERRY_DC_B_URL', 'FERRY_DC_C_URL'] as const).map((v) => check(v, () => sql(env[v], 'select 1'))),
    check('Kafka', async () => {
      const admin = new Kafka({ brokers: env.FERRY_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, retry: { retries: 1 } }).admin();
      await admin.connect();
      try {
        await admin.listTopics();
      } finally {
        await admin.disconnect();
      }
    }),
    check('SQS', async () => {
      // the local server takes any credentials; these are placeholders, not secrets
      const sqs = new SQSClient({ endpoint: env.FERRY_SQS_ENDPOINT, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
      try {
        await sqs.send(new ListQueuesCommand({ MaxResults: 1 }));
      } finally {
        sqs.destroy();
      }
    }),
  ];
  return (await Promise.all(checks)).filter((x): x is string => x !== undefined);
}
