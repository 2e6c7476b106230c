// The DCs of one benchmark run: a fresh database per DC cluster with the pgbench tables (the same
// rows everywhere), Ferry installed and the tables tracked in every DC, one config file per DC.
import { createDatabase, dropDatabase, uniq } from './db';
import { dcConfig, DcConfig, prepareDc, writeConfig } from './ferry';
import { services } from './paths';
import { initPgbench, PGBENCH_TABLES, PROBE_TABLE } from './pgbench';
import type { TransportKind } from './settings';
import { dropTransport } from './transport-cleanup';

export const TRACKED = [...PGBENCH_TABLES, PROBE_TABLE];

export interface Dcs {
  names: string[];
  url: Record<string, string>;
  cfg: Record<string, DcConfig>;
  cfgFile: Record<string, string>;
  /** Removes the databases and the run's topics or queues. */
  drop(): Promise<void>;
}

function clusterUrl(dc: string): string {
  const env = services();
  const map: Record<string, string> = { 'dc-a': env.FERRY_DC_A_URL, 'dc-b': env.FERRY_DC_B_URL, 'dc-c': env.FERRY_DC_C_URL };
  if (!map[dc]) throw new Error(`no cluster for ${dc}`);
  return map[dc];
}

/**
 * names: the DCs (each applies every other one). Every DC tracks the tables, as a deployment
 * where any DC may write does; only dc-a writes in the benchmarks.
 */
export function pgbenchDcs(kind: TransportKind, names: string[], scale: number): Promise<Dcs> {
  return createDcs(kind, names, (url) => initPgbench(url, scale), TRACKED);
}

/**
 * A fresh database per DC, made ready by `init` (given the DC's name too, for a DC that starts
 * empty), with `tracked` tracked.
 */
export async function createDcs(kind: TransportKind, names: string[], init: (url: string, dc: string) => Promise<void>, tracked: readonly string[]): Promise<Dcs> {
  const db = uniq('bench_');
  const prefix = uniq('b');
  const url: Record<string, string> = {};
  const cfg: Record<string, DcConfig> = {};
  const cfgFile: Record<string, string> = {};
  const drop = async () => {
    await Promise.all(Object.values(url).map((u) => dropDatabase(u).catch(() => undefined)));
    await dropTransport(kind, prefix);
  };
  try {
    for (const dc of names) url[dc] = await createDatabase(clusterUrl(dc), db);
    await Promise.all(names.map((dc) => init(url[dc], dc)));
    for (const dc of names) {
      cfg[dc] = dcConfig(dc, url[dc], kind, prefix, names.filter((x) => x !== dc));
      cfgFile[dc] = writeConfig(cfg[dc]);
    }
    await Promise.all(names.map((dc) => prepareDc(cfgFile[dc], tracked)));
  } catch (e) {
    await drop();
    throw e;
  }
  return { names, url, cfg, cfgFile, drop };
}

export function log(bench: string, msg: string): void {
  process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${bench}: ${msg}\n`);
}
