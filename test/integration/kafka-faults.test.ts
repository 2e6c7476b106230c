// Kafka errors that retrying cannot fix stop the forwarder loudly (issue 11), against the real broker:
// a topic whose max.message.bytes is smaller than Ferry's frames refuses every publish with
// MESSAGE_TOO_LARGE. Before, the forwarder wrapped that as a retriable error and tried again for
// ever at warn level (the origin's stream stuck without a word on stderr); now `ferry forward` exits
// 2 with one line naming the key that fixes it. The topic gets the small limit as a topic setting,
// so no broker-wide setting other tests rely on changes.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { dropDatabase, freshDatabase, sql } from '../support/db';
import { prepareOrigin, testConfig } from '../support/origin';
import { ROOT, services } from '../support/services';
import { kafkaTopic } from '../../src/transport/names';
import { testFile } from '../support/files';

/** Runs `ferry forward` until it exits (or the timeout kills it): exit code and stderr. */
function forwardUntilExit(cfg: object, timeoutMs: number): Promise<{ code: number | null; err: string }> {
  const file = testFile('cfg', 'json', JSON.stringify(cfg));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'ferry'), 'forward', '--config', file], {
    env: { ...process.env, FERRY_LOG_LEVEL: 'fatal' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, err });
    }),
  );
}

describe('Kafka errors that need an operator stop the forwarder', () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase('a');
    await prepareOrigin(url, 'create table public.big (id int primary key, v text not null);', ['public.big']);
  });
  afterAll(() => dropDatabase(url));

  it('a frame larger than the topic takes: exit 2 and one line naming transport.maxFrameBytes, nothing marked published', async () => {
    const cfg = testConfig(url, 'kafka');
    const topic = kafkaTopic(cfg.transport.kind === 'kafka' ? cfg.transport.topicPrefix : '', 'dc-a');
    const kafka = new Kafka({ clientId: 'test-admin', brokers: services().FERRY_KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      // the topic exists before Ferry starts, with a limit far below Ferry's default frame size
      await admin.createTopics({ topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '2048' }] }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    await sql(url, `insert into public.big values (1, repeat('x', 20000))`);

    const t0 = Date.now();
    const r = await forwardUntilExit(cfg, 90_000);
    expect(r.code).toBe(2);
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^ferry: origin dc-a: publishing tick \\d+ to Kafka topic ${topic.replace(/\./g, '\\.')} failed \\(MESSAGE_TOO_LARGE\\)`));
    expect(lines[0]).toMatch(/set transport\.maxFrameBytes \(FERRY_TRANSPORT__MAX_FRAME_BYTES\) below that limit/);
    expect(Date.now() - t0).toBeLessThan(60_000);
    // the batch stays unpublished: a forwarder with frames the topic takes sends it later
    expect(await sql(url, `select count(*)::int as n from ferry.ticks where published_at is not null and cnt > 0`)).toEqual([{ n: 0 }]);
  }, 120_000);
});
