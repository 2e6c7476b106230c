import { GenericContainer, StartedTestContainer, Wait } from 'testcontainers';
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { KafkaContainer } from '@testcontainers/kafka';

/**
 * The same services as infra/services.sh, as containers, for machines with a Docker engine.
 * Images match docker-compose.yml. Ryuk removes them when the test process exits.
 */
export async function startContainers(): Promise<Record<string, string>> {
  const started: StartedTestContainer[] = [];
  const pg = await Promise.all(
    ['dc-a', 'dc-b', 'dc-c'].map((dc) =>
      new PostgreSqlContainer('postgres:16-alpine').withDatabase('ferry').withUsername('app').withPassword('app').withLabels({ 'ferry.dc': dc }).start(),
    ),
  );
  started.push(...pg);
  const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.7.1').withKraft().start();
  const sqs = await new GenericContainer('softwaremill/elasticmq-native:1.6.11')
    .withExposedPorts(9324)
    .withWaitStrategy(Wait.forLogMessage(/started/))
    .start();
  const url = (c: (typeof pg)[number]) => `postgres://app:app@${c.getHost()}:${c.getPort()}/ferry`;
  return {
    FERRY_DC_A_URL: url(pg[0]),
    FERRY_DC_B_URL: url(pg[1]),
    FERRY_DC_C_URL: url(pg[2]),
    FERRY_KAFKA_BROKERS: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
    FERRY_SQS_ENDPOINT: `http://${sqs.getHost()}:${sqs.getMappedPort(9324)}`,
  };
}
