// Integration and e2e tests share one 2-core machine with three PostgreSQL clusters, Kafka and
// ElasticMQ. A test that fails is run once more, and its first failure is printed in full
// (logErrorsBeforeRetry), so a flake stays visible in the output instead of failing CI — and a
// real bug still fails twice.
jest.retryTimes(1, { logErrorsBeforeRetry: true });
