import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The repository root (found upward from here, so it holds when compiled elsewhere for bench/). */
export const ROOT = (() => {
  let d = __dirname;
  while (!existsSync(path.join(d, 'infra', 'services.sh'))) {
    if (path.dirname(d) === d) throw new Error(`cannot find the repository root above ${__dirname}`);
    d = path.dirname(d);
  }
  return d;
})();
export const TEST_ENV_FILE = path.join(ROOT, '.ferry', 'test-services.env');
export const SERVICE_VARS = ['FERRY_DC_A_URL', 'FERRY_DC_B_URL', 'FERRY_DC_C_URL', 'FERRY_KAFKA_BROKERS', 'FERRY_SQS_ENDPOINT'] as const;
export type ServiceVar = (typeof SERVICE_VARS)[number];

/** Reads `export NAME='value'` lines (the format infra/services.sh writes). */
export function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z0-9_]+)=(?:'([^']*)'|"([^"]*)"|(\S*))\s*$/.exec(line);
    if (m) out[m[1]] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  return out;
}

/** The service addresses for a test; a missing one fails the test run, it never skips. */
export function services(): Record<ServiceVar, string> {
  const missing = SERVICE_VARS.filter((v) => !process.env[v]);
  if (missing.length) {
    throw new Error(`integration tests need ${missing.join(', ')}: run them through \`make test\` (it starts the services), or source .ferry/services.env`);
  }
  return Object.fromEntries(SERVICE_VARS.map((v) => [v, process.env[v]!])) as Record<ServiceVar, string>;
}
