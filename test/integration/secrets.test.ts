// Credentials never reach a log line or an error message (issue 11): `ferry run` and `ferry status`
// at debug level, made to fail against services that are down or refuse them, while stdout and
// stderr are searched for the passwords.
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { dropDatabase, freshDatabase, sql } from '../support/db';
import { prepareOrigin, waitFor } from '../support/origin';
import { ROOT, services } from '../support/services';
import { testFile } from '../support/files';

const DB_PASSWORD = 'Db-Pa55word-9f3c1e';
const SQS_SECRET = 'Sqs/Secret+Key-7d2a9b';

interface Output {
  code: number | null;
  text: () => string;
  stop: () => Promise<number | null>;
  exit: () => Promise<number | null>;
}

/** Runs `ferry ARGS --config FILE` at debug level, collecting stdout and stderr together. */
function ferry(args: string[], config: object): Output {
  const file = testFile('secret', 'json', JSON.stringify(config));
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'ferry'), ...args, '--config', file], {
    env: { ...process.env, FERRY_LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  const o: Output = {
    code: null,
    text: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      o.code = await exited;
      return o.code;
    },
    exit: () => exited,
  };
  return o;
}

const withPassword = (url: string, password: string) => {
  const u = new URL(url);
  u.password = password;
  return u.toString();
};

function expectClean(text: string, secrets: string[]): void {
  expect(text.length).toBeGreaterThan(0);
  for (const s of secrets) {
    expect(text).not.toContain(s);
    expect(text).not.toContain(encodeURIComponent(s));
  }
  // no URL shows a password, whatever it is
  expect(text).not.toMatch(/postgres(ql)?:\/\/[^:/@\s"]+:(?!\*\*\*@)[^@/\s"]+@/);
}

describe('credentials never in the output', () => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase('a');
    await prepareOrigin(url, 'create table public.t (id int primary key, v text)', ['public.t']);
  });
  afterAll(() => dropDatabase(url));

  const sqs = (endpoint: string) => ({ kind: 'sqs', endpoint, region: 'us-east-1', accessKeyId: 'AKIA-TEST-KEY', secretAccessKey: SQS_SECRET, waitTimeSeconds: 1 });

  it('ferry run and ferry status while the database is down: its password is in no line', async () => {
    const down = new URL(withPassword(url, DB_PASSWORD));
    down.port = '1';
    const cfg = { origin: 'dc-a', database: down.toString(), peers: ['dc-b'], http: { port: 0 }, transport: sqs(services().FERRY_SQS_ENDPOINT) };
    const r = ferry(['run'], cfg);
    await waitFor(async () => /cannot reach this DC's database yet/.test(r.text()), 30_000, 'the sidecar to say the database is down');
    await r.stop();
    expectClean(r.text(), [DB_PASSWORD, SQS_SECRET]);

    const s = ferry(['status'], cfg);
    expect(await s.exit()).toBe(3);
    expect(s.text()).toMatch(/cannot connect to this DC's database \(key database: postgres:\/\/app:\*\*\*@127\.0\.0\.1:1\//);
    expectClean(s.text(), [DB_PASSWORD]);
  });

  it('a config file that is not valid YAML: the parser\'s excerpt of the file does not show the passwords', async () => {
    for (const text of [
      `origin: dc-a\ndatabase: ${withPassword(url, DB_PASSWORD)}\n  transport: [unclosed\n`,
      `origin: dc-a\ntransport: { kind: sqs, secretAccessKey: ${SQS_SECRET}\n`,
    ]) {
      const file = testFile('secret', 'yaml', text);
      const s = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'ferry'), 'status', '--config', file], { encoding: 'utf8' });
      expect(s.status).toBe(2);
      expect(s.stderr).toMatch(/is not valid YAML\/JSON: .* at line \d+, column \d+/);
      expect(s.stderr.trim().split('\n')).toHaveLength(1);
      expectClean(s.stdout + s.stderr, [DB_PASSWORD, SQS_SECRET]);
    }
  });

  it('ferry run while the SQS server does not answer: its secret key and the database URL are in no line', async () => {
    const cfg = { origin: 'dc-a', database: url, peers: ['dc-b'], http: { port: 0 }, transport: sqs('http://127.0.0.1:1') };
    const r = ferry(['run'], cfg);
    await sqlWrite(url);
    // the forwarder and the applier both fail against the queue, and say so at debug or above
    await waitFor(async () => /ECONNREFUSED/.test(r.text()), 60_000, 'an SQS connection error in the log');
    await r.stop();
    expectClean(r.text(), [SQS_SECRET]);
  });

  it('ferry run while the Kafka broker does not answer: the database URL is in no line', async () => {
    const cfg = { origin: 'dc-a', database: url, peers: ['dc-b'], http: { port: 0 }, transport: { kind: 'kafka', brokers: ['127.0.0.1:1'] } };
    const r = ferry(['run'], cfg);
    await sqlWrite(url);
    await waitFor(async () => /ECONNREFUSED|Connection error/.test(r.text()), 60_000, 'a Kafka connection error in the log');
    await r.stop();
    expectClean(r.text(), []);
  });
});

async function sqlWrite(url: string): Promise<void> {
  await sql(url, `insert into t values ((random() * 1e6)::int, 'x') on conflict do nothing`);
}
