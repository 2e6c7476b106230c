// Removes what one benchmark run left in the transport: every Kafka topic and consumer group, or
// every SQS queue, named with the run's prefix. The local SQS server keeps messages in a small
// JVM heap; over a whole suite, leftovers would fill it.
import { DeleteQueueCommand, ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Kafka, logLevel } from 'kafkajs';
import { services } from './paths';
import type { TransportKind } from './settings';

async function dropKafka(prefix: string): Promise<void> {
  const admin = new Kafka({ brokers: services().FERRY_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${prefix}.`));
    if (topics.length) await admin.deleteTopics({ topics, timeout: 30_000 });
    // a group whose member has not yet timed out cannot be deleted; it holds only offsets
    const groups = (await admin.listGroups()).groups.map((g) => g.groupId).filter((g) => g.startsWith(`${prefix}.`));
    if (groups.length) await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await admin.disconnect();
  }
}

async function dropSqs(prefix: string): Promise<void> {
  // the local server takes any credentials; these are placeholders, not secrets
  const sqs = new SQSClient({ endpoint: services().FERRY_SQS_ENDPOINT, region: 'us-east-1', credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' } });
  try {
    const r = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix }));
    for (const QueueUrl of r.QueueUrls ?? []) await sqs.send(new DeleteQueueCommand({ QueueUrl }));
  } finally {
    sqs.destroy();
  }
}

/** Best effort: a failure here must not hide the run's own result, so it is only reported. */
export async function dropTransport(kind: TransportKind, prefix: string): Promise<void> {
  try {
    await (kind === 'kafka' ? dropKafka(prefix) : dropSqs(prefix));
  } catch (e) {
    process.stderr.write(`bench: could not remove the ${kind} resources of prefix ${prefix}: ${(e as Error).message}\n`);
  }
}
