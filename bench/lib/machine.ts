// What the numbers were measured on and with: machine, versions, the code's commit, the database
// settings. Ratios are only comparable within one run, but a run must say what it ran.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from './db';
import { ROOT, services } from './paths';
import { pgbenchVersion } from './pgbench';

function pomVersion(pom: string, property: string): string {
  try {
    const m = new RegExp(`<${property}>([^<]+)</${property}>`).exec(readFileSync(path.join(ROOT, pom), 'utf8'));
    return m?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function git(args: string[]): string {
  try {
    return execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

export function machine() {
  const cpus = os.cpus();
  return {
    host: os.hostname(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: os.release(),
    loadAvg: os.loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

export async function versions() {
  const url = services().FERRY_DC_A_URL;
  const pg = await sql<{ v: string }>(url, 'select version() as v');
  const settings = await sql<{ name: string; setting: string; unit: string | null }>(
    url,
    `select name, setting, unit from pg_settings
      where name in ('fsync', 'synchronous_commit', 'full_page_writes', 'shared_buffers', 'wal_level', 'max_connections') order by name`,
  );
  const status = git(['status', '--porcelain', '--untracked-files=no', '--', 'src']);
  return {
    node: process.version,
    postgres: pg[0].v.replace(/ on .*/, ''),
    pgbench: await pgbenchVersion(),
    kafka: pomVersion('infra/kafka/pom.xml', 'kafka.version'),
    elasticmq: pomVersion('infra/elasticmq/pom.xml', 'elasticmq.version'),
    ferryCommit: git(['rev-parse', 'HEAD']),
    // the same tree id means the same Ferry code, whichever branch or commit carries it
    srcTree: git(['rev-parse', 'HEAD:src']),
    ferryBranch: git(['rev-parse', '--abbrev-ref', 'HEAD']),
    srcChanged: status !== '' && status !== 'unknown',
    dcSettings: Object.fromEntries(settings.map((s) => [s.name, s.unit ? `${s.setting} × ${s.unit}` : s.setting])),
  };
}

/**
 * Ferry runs with its defaults (src/config/schema.ts) and http.port 0; FERRY_* variables in the
 * environment override config keys for every Ferry process the suite starts. Those in effect are
 * recorded (values of keys that could hold a secret are not).
 */
export function ferryOverrides(): Record<string, string> {
  const keys = /^FERRY_(FORWARD|APPLY|TRANSPORT|LOG_LEVEL)(__|$)/;
  const secret = /SECRET|KEY_ID|PASSWORD|TOKEN/;
  return Object.fromEntries(
    Object.entries(process.env)
      .filter(([k, v]) => keys.test(k) && v !== undefined)
      .map(([k, v]) => [k, secret.test(k) ? '(set)' : (v as string)]),
  );
}
