import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { Kafka, logLevel } from 'kafkajs';
import { ListQueuesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { TEST_FILES } from './files';
import { readEnvFile, ROOT, SERVICE_VARS, TEST_ENV_FILE } from './services';

/**
 * Finds the services for the integration tests, in this order:
 *  1. addresses given in the environment (FERRY_DC_A_URL … FERRY_SQS_ENDPOINT);
 *  2. containers through testcontainers, when a Docker engine answers;
 *  3. the local services that infra/services.sh installs and starts (no Docker needed).
 * Then proves each one answers. If none can be had, the run fails and says what is missing.
 */
export default async function globalSetup(): Promise<void> {
  rmSync(TEST_FILES, { recursive: true, force: true });
  let env: Record<string, string> = {};
  let source = 'environment';
  if (SERVICE_VARS.every((v) => process.env[v])) {
    for (const v of SERVICE_VARS) env[v] = process.env[v]!;
  } else if (process.env.FERRY_TEST_CONTAINERS !== '0' && (await dockerAnswers())) {
    const { startContainers } = await import('./containers');
    env = await startContainers();
    source = 'testcontainers';
  } else {
    source = 'infra/services.sh';
    try {
      execFileSync('bash', [path.join(ROOT, 'infra', 'services.sh'), 'up'], { stdio: 'inherit' });
    } catch {
      throw new Error('could not start the local services (infra/services.sh up failed; see the log it named above). Integration tests need PostgreSQL, Kafka and an SQS server.');
    }
    env = readEnvFile(path.join(ROOT, '.ferry', 'services.env'));
  }
  const missing = SERVICE_VARS.filter((v) => !env[v]);
  if (missing.length) throw new Error(`no address for ${missing.join(', ')} (from ${source})`);
  await Promise.all([
    ...['FERRY_DC_A_URL', 'FERRY_DC_B_URL', 'FERRY_DC_C_URL'].map((v) => checkPostgres(v, env[v])),
    checkKafka(env.FERRY_KAFKA_BROKERS),
    checkSqs(env.FERRY_SQS_ENDPOINT),
  ]);
  mkdirSync(path.dirname(TEST_ENV_FILE), { recursive: true });
  writeFileSync(TEST_ENV_FILE, SERVICE_VARS.map((v) => `export ${v}='${env[v]}'`).join('\n') + '\n');
  for (const v of SERVICE_VARS) process.env[v] = env[v];
  process.stdout.write(`\nintegration services (${source}) answer: 3 PostgreSQL clusters, Kafka ${env.FERRY_KAFKA_BROKERS}, SQS ${env.FERRY_SQS_ENDPOINT}\n`);
}

async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

async function checkPostgres(name: string, url: string): Promise<void> {
  const c = new Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  try {
    await c.connect();
    await c.query('select 1');
  } catch (e) {
    throw new Error(`${name} (PostgreSQL) does not answer: ${(e as Error).message}`);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function checkKafka(brokers: string): Promise<void> {
  const admin = new Kafka({ brokers: brokers.split(','), logLevel: logLevel.NOTHING, retry: { retries: 3 } }).admin();
  try {
    await admin.connect();
    await admin.listTopics();
  } catch (e) {
    throw new Error(`FERRY_KAFKA_BROKERS=${brokers} does not answer: ${(e as Error).message}`);
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

async function checkSqs(endpoint: string): Promise<void> {
  const sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  try {
    await sqs.send(new ListQueuesCommand({}));
  } catch (e) {
    throw new Error(`FERRY_SQS_ENDPOINT=${endpoint} does not answer: ${(e as Error).message}`);
  } finally {
    sqs.destroy();
  }
}
