import { readFileSync } from 'node:fs';
import YAML from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../common/errors';
import { registerSecret } from '../common/logger';
import { configSchema, FerryConfig } from './schema';

/**
 * Every key can be set from the environment: FERRY_ + the key path in UPPER_SNAKE, nested keys
 * joined by a double underscore. transport.topicPrefix → FERRY_TRANSPORT__TOPIC_PREFIX,
 * forward.tickIntervalMs → FERRY_FORWARD__TICK_INTERVAL_MS. Values are read as YAML scalars or
 * flow sequences, and a plain comma list is a list (FERRY_PEERS=dc-b,dc-c).
 */
const TOP_KEYS = ['origin', 'database', 'transport', 'peers', 'destinations', 'http', 'forward', 'apply', 'conflicts'];

const snake = (k: string) => k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
const camel = (s: string) => s.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

function envValue(raw: string, key: string): unknown {
  if (/^\s*[[{]/.test(raw)) return YAML.parse(raw);
  if (['peers', 'destinations', 'brokers', 'priority'].includes(key)) return raw.split(',').map((s) => s.trim()).filter(Boolean);
  const v = YAML.parse(raw);
  return typeof v === 'number' || typeof v === 'boolean' ? v : raw;
}

export function applyEnv(base: Record<string, unknown>, env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(base);
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('FERRY_') || raw === undefined) continue;
    const path = name.slice(6).split('__').map(camel);
    if (!TOP_KEYS.includes(path[0])) continue; // FERRY_DC_A_URL and friends are not config keys
    let node = out;
    for (const seg of path.slice(0, -1)) {
      if (typeof node[seg] !== 'object' || node[seg] === null) node[seg] = {};
      node = node[seg] as Record<string, unknown>;
    }
    const leaf = path[path.length - 1];
    node[leaf] = envValue(raw, leaf);
  }
  return out;
}

export function describeIssues(err: z.ZodError): string {
  return err.issues
    .map((i) => {
      const key = i.path.join('.') || '(top level)';
      const envName = 'FERRY_' + i.path.filter((p) => typeof p === 'string').map((p) => snake(p as string)).join('__');
      return `  - ${key}: ${i.message} (set it in the config file or ${envName})`;
    })
    .join('\n');
}

export function parseConfig(raw: unknown, source: string): FerryConfig {
  const res = configSchema.safeParse(raw);
  if (!res.success) throw new ConfigError(`invalid configuration in ${source}:\n${describeIssues(res.error)}`);
  // from here on no log line or error message carries them
  try {
    registerSecret(decodeURIComponent(new URL(res.data.database).password));
  } catch {
    // not a URL the password can be read from: the URL pattern still masks it
  }
  if (res.data.transport.kind === 'sqs') registerSecret(res.data.transport.secretAccessKey);
  return res.data;
}

export function loadConfig(file: string | undefined, env: NodeJS.ProcessEnv = process.env): FerryConfig {
  let base: Record<string, unknown> = {};
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError(`cannot read config file ${file}: ${(e as Error).message}`);
    }
    try {
      base = (YAML.parse(text) ?? {}) as Record<string, unknown>;
    } catch (e) {
      // the first line only: the parser's excerpt of the file could show a password
      throw new ConfigError(`config file ${file} is not valid YAML/JSON: ${(e as Error).message.split('\n')[0]}`);
    }
    if (typeof base !== 'object' || Array.isArray(base)) throw new ConfigError(`config file ${file} must hold a mapping of keys`);
  }
  return parseConfig(applyEnv(base, env), file ? `${file} (+ FERRY_* environment)` : 'the FERRY_* environment');
}
