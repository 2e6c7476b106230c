// Where the benchmarks find the repository and keep their files. The benchmarks run compiled
// from .ferry/build/bench/, so the root is found upward, not relative to this file.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

export const ROOT = (() => {
  let d = __dirname;
  while (!existsSync(path.join(d, 'infra', 'services.sh'))) {
    if (path.dirname(d) === d) throw new Error(`cannot find the repository root above ${__dirname}`);
    d = path.dirname(d);
  }
  return d;
})();

/** Config files and the logs of the Ferry processes a benchmark starts (ignored by git). */
export const WORK_DIR = path.join(ROOT, '.ferry', 'bench');

export function workDir(...sub: string[]): string {
  const d = path.join(WORK_DIR, ...sub);
  mkdirSync(d, { recursive: true });
  return d;
}

/** Reads `export NAME='value'` lines, the format infra/services.sh and bench/native-pair.sh write. */
export function readEnvFile(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(file)) return out;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*(?:export\s+)?([A-Z0-9_]+)=(?:'([^']*)'|"([^"]*)"|(\S*))\s*$/.exec(line);
    if (m) out[m[1]] = m[2] ?? m[3] ?? m[4] ?? '';
  }
  return out;
}

const SERVICE_VARS = ['FERRY_DC_A_URL', 'FERRY_DC_B_URL', 'FERRY_DC_C_URL', 'FERRY_KAFKA_BROKERS', 'FERRY_SQS_ENDPOINT'] as const;
export type Services = Record<(typeof SERVICE_VARS)[number], string>;

/** The service addresses: from the environment, else from .ferry/services.env; all are required. */
export function services(): Services {
  const file = readEnvFile(path.join(ROOT, '.ferry', 'services.env'));
  const out: Partial<Services> = {};
  for (const v of SERVICE_VARS) out[v] = process.env[v] || file[v];
  const missing = SERVICE_VARS.filter((v) => !out[v]);
  if (missing.length) throw new Error(`the benchmarks need ${missing.join(', ')}: run \`make bench\` (it starts the services), or \`bash infra/services.sh up\` first`);
  return out as Services;
}
