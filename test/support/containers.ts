import path from 'node:path';
import { GenericContainer, StartedTestContainer, Wait } from 'testcontainers';
import { PostgreSqlContainer } from '@testcontainers/postgresql';
import { KafkaContainer } from '@testcontainers/kafka';

/**
 * The same services as infra/services.sh, as containers, for machines with a Docker engine.
 * PostgreSQL and ElasticMQ use docker-compose.yml's images; Kafka uses the image the testcontainers
 * Kafka module knows how to start in KRaft mode (Confluent's 7.7 = Apache Kafka 3.7). As with the
 * local clusters, `app` is no superuser: the image's init step runs infra/postgres/app-role.sql.
 * Ryuk removes the containers when the test process exits.
 */
export async function startContainers(): Promise<Record<string, string>> {
  const started: StartedTestContainer[] = [];
  const pg = await Promise.all(
    ['dc-a', 'dc-b', 'dc-c'].map((dc) =>
      new PostgreSqlContainer('postgres:16')
        .withDatabase('postgres')
        .withUsername('postgres')
        .withPassword('postgres')
        .withCopyFilesToContainer([{ source: path.join(__dirname, '..', '..', 'infra', 'postgres', 'app-role.sql'), target: '/docker-entrypoint-initdb.d/app-role.sql' }])
        .withLabels({ 'ferry.dc': dc })
        .start(),
    ),
  );
  started.push(...pg);
  const kafka = await new KafkaContainer('confluentinc/cp-kafka:7.7.1').withKraft().start();
  const sqs = await new GenericContainer('softwaremill/elasticmq-native:1.7.1')
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
