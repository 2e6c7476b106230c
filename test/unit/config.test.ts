import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/load';
import { ConfigError } from '../../src/common/errors';

function file(text: string): string {
  const f = path.join(mkdtempSync(path.join(tmpdir(), 'ferry-cfg-')), 'ferry.yaml');
  writeFileSync(f, text);
  return f;
}

const BASE = `
origin: dc-a
database: postgres://app:secret@127.0.0.1:5432/app
transport: { kind: kafka, brokers: [127.0.0.1:9092] }
peers: [dc-b, dc-c]
`;

describe('configuration', () => {
  it('reads YAML and fills defaults', () => {
    const c = loadConfig(file(BASE), {});
    expect(c.transport).toMatchObject({ kind: 'kafka', topicPrefix: 'ferry', brokers: ['127.0.0.1:9092'] });
    expect(c.destinations).toEqual(['dc-b', 'dc-c']);
    expect(c.http.port).toBe(8080);
    expect(c.forward.tickIntervalMs).toBeGreaterThan(0);
  });

  it('lets the environment override any key, nested keys with a double underscore', () => {
    const c = loadConfig(file(BASE), {
      FERRY_ORIGIN: 'dc-x',
      FERRY_PEERS: 'dc-y,dc-z',
      FERRY_TRANSPORT__TOPIC_PREFIX: 'prod',
      FERRY_FORWARD__TICK_INTERVAL_MS: '75',
      FERRY_DC_A_URL: 'postgres://not-a-config-key',
    });
    expect(c.origin).toBe('dc-x');
    expect(c.peers).toEqual(['dc-y', 'dc-z']);
    expect(c.transport.kind === 'kafka' && c.transport.topicPrefix).toBe('prod');
    expect(c.forward.tickIntervalMs).toBe(75);
  });

  it('works from the environment alone (a sidecar with no file)', () => {
    const c = loadConfig(undefined, {
      FERRY_ORIGIN: 'dc-b',
      FERRY_DATABASE: 'postgres://x@h/db',
      FERRY_TRANSPORT: '{kind: sqs, endpoint: "http://127.0.0.1:9324"}',
    });
    expect(c.transport).toMatchObject({ kind: 'sqs', region: 'us-east-1', queuePrefix: 'ferry' });
  });

  it('names the key, the problem and the environment variable when invalid', () => {
    const f = file(BASE.replace('dc-a', 'DC A!').replace('kind: kafka, brokers: [127.0.0.1:9092]', 'kind: kafka, brokers: []') + 'bogus: 1\n');
    let err: unknown;
    try {
      loadConfig(f, {});
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/origin: a DC id is/);
    expect(msg).toMatch(/FERRY_ORIGIN/);
    expect(msg).toMatch(/transport\.brokers: give at least one broker/);
    expect(msg).toMatch(/bogus/);
  });

  it('peerDatabases: from the file, or FERRY_PEER_DATABASES__<DC> with the DC id in upper case and _ for - (or for _ where a DC of the config is so named)', () => {
    const c = loadConfig(file(BASE.replace('peers: [dc-b, dc-c]', 'peers: [dc-b, dc_x]') + 'peerDatabases: { dc-b: "postgres://u:pw@b/app" }\n'), {
      FERRY_PEER_DATABASES__DC_C: 'postgres://u:pw@c/app',
      FERRY_PEER_DATABASES__DC_X: 'postgres://u:pw@x/app',
    });
    expect(c.peerDatabases).toEqual({ 'dc-b': 'postgres://u:pw@b/app', 'dc-c': 'postgres://u:pw@c/app', dc_x: 'postgres://u:pw@x/app' });
    expect(loadConfig(file(BASE), {}).peerDatabases).toEqual({});
    expect(() => loadConfig(file(BASE), { FERRY_PEER_DATABASES__DC_B: 'mysql://nope' })).toThrow(/peerDatabases\.dc-b: a peer database must be a postgres:\/\/ connection URL \(set it in the config file or FERRY_PEER_DATABASES__DC_B\)/);
  });

  it('says which file is missing', () => {
    expect(() => loadConfig('/nonexistent/ferry.yaml', {})).toThrow(/cannot read config file \/nonexistent\/ferry.yaml/);
  });
});
