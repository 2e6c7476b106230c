import type { Client } from 'pg';
import { checkApplierRole } from '../capture/applier-role';
import { checkOrigin, checkSchema } from '../capture/migrate';
import type { FerryConfig } from '../config/schema';
import { connect, inTransaction } from '../common/db';
import { FerryError } from '../common/errors';
import { safeUrl } from '../common/logger';
import { sleep } from '../common/sleep';
import { appliedMarks, startApplied } from '../tables/applied';
import { beginBootstrap, copiedTables, CopiedTable, finishBootstrap, OriginMark, readBootstrap } from '../tables/bootstrap';
import { placeCopiedVersions } from '../tables/row-versions';
import { coveringEnd } from '../tables/ticks';
import { streamKeptProblem } from '../transport';
import { copyGroups, nonEmpty, prepareDestination, sourceTables } from './catalog';
import { copyGroup } from './group';
import { progress as defaultProgress, Progress } from './progress';

export interface BootstrapOptions {
  from: string;
  progress?: Progress;
  /** How long to wait for the source to publish the changes its copy saw. */
  publishWaitMs?: number;
}

export interface BootstrapReport {
  source: string;
  copied: { table: string; rows: number }[];
  /** Tables an earlier run had copied already. */
  skipped: string[];
  rows: number;
  seconds: number;
  /** Where this DC's stream of each origin starts. */
  start: Record<string, number>;
  alreadyDone?: boolean;
}

/**
 * Fills this DC's empty tables from a running DC (DESIGN.md §7), while every DC keeps writing: each
 * table (or group linked by foreign keys) is copied in one snapshot of the source, with what that
 * snapshot holds of every origin's stream; then the applied position of each origin is set where
 * the copies leave off, and the appliers drop the changes a copy already holds (apply/copied.ts).
 * A rerun after a crash skips the tables already copied.
 */
export async function bootstrap(cfg: FerryConfig, opts: BootstrapOptions): Promise<BootstrapReport> {
  const source = opts.from;
  const say = opts.progress ?? defaultProgress();
  if (source === cfg.origin) throw new FerryError(`--from ${source} is this DC itself: name the running DC to copy from`);
  const url = cfg.peerDatabases[source];
  if (!url) throw new FerryError(`no database for ${source}: set peerDatabases.${source} in the config (or FERRY_PEER_DATABASES__${source.toUpperCase().replace(/-/g, '_')})`);
  const started = Date.now();
  const dst = await open(cfg.database, 'this DC', cfg.origin);
  let src: Client | undefined;
  try {
    // the copy is written with ferry.origin set, like an applier's writes: it must not be captured again
    await checkApplierRole(dst);
    src = await open(url, source, source);
    const state = await readBootstrap(dst);
    if (state && state.source !== source) throw new FerryError(`this DC is being bootstrapped from ${state.source}, not ${source}: run \`ferry bootstrap --from ${state.source}\` to finish it`);
    if (state?.finished) return { source, copied: [], skipped: [], rows: 0, seconds: 0, start: {}, alreadyDone: true };
    if (!state) {
      const busy = await dst.query<{ origin: string }>('select origin from ferry.applied where pos > 0');
      if (busy.rows.length) throw new FerryError(`this DC has applied changes already (from ${busy.rows.map((r) => r.origin).join(', ')}): bootstrap fills a new, empty DC only`);
    }
    for (const o of [source, ...(await appliedMarks(src)).map((m) => m.origin)].filter((o) => o !== cfg.origin)) {
      const problem = await streamKeptProblem(cfg, o);
      if (problem) throw new FerryError(problem);
      if (!cfg.peers.includes(o)) say.say(`warning: ${o} is not among this DC's peers: its changes will not be applied here (add it to peers)`);
    }
    const tables = await sourceTables(src);
    if (!tables.length) throw new FerryError(`${source} tracks no table: nothing to copy`);
    const oids = await prepareDestination(dst, tables, source, (s) => say.say(s));
    const done = new Set((await copiedTables(dst)).map((c) => c.table));
    const todo = copyGroups(tables).filter((g) => !g.every((t) => done.has(t.name)));
    const skipped = tables.filter((t) => done.has(t.name)).map((t) => t.name);
    if (skipped.length) say.say(`resuming: ${skipped.length} table(s) copied by an earlier run are skipped (${skipped.join(', ')})`);
    const full = await nonEmpty(dst, todo.flat());
    if (full.length) throw new FerryError(`table(s) ${full.join(', ')} already hold rows here: bootstrap fills empty tables only (empty them, or bootstrap another DC)`);
    await beginBootstrap(dst, source);

    const report: BootstrapReport = { source, copied: [], skipped, rows: 0, seconds: 0, start: {} };
    let groups = 0;
    for (const g of todo) {
      const r = await copyGroup({ src, dst, source, self: cfg.origin, oids, progress: say, onRows: () => failpoint(groups) }, g);
      groups++;
      report.rows += r.rows;
      for (const t of g) report.copied.push({ table: t.name, rows: -1 });
    }
    const copied = await copiedTables(dst);
    for (const c of report.copied) c.rows = copied.find((x) => x.table === c.table)?.rows ?? 0;
    report.start = await finish(src, dst, source, copied, opts.publishWaitMs ?? 60_000, say);
    report.seconds = (Date.now() - started) / 1000;
    return report;
  } finally {
    await src?.end().catch(() => undefined);
    await dst.end().catch(() => undefined);
  }
}

/**
 * Each origin's stream starts at the lowest position any copy holds (changes above it that a copy
 * holds are dropped by the applier); the source's own changes a copy may hold reach up to the end
 * of a batch the source has published. This DC's clock moves past the source's.
 */
async function finish(src: Client, dst: Client, source: string, copied: CopiedTable[], waitMs: number, say: Progress): Promise<Record<string, number>> {
  const origins = [...new Set(copied.flatMap((c) => Object.keys(c.applied)))];
  const none: OriginMark = { pos: 0, tick: null, offset: null, snap: null, snapTick: null, seen: {} };
  const starts = new Map<string, OriginMark>();
  const covered: Record<string, number> = {};
  for (const o of origins) {
    const marks = copied.map((c) => c.applied[o] ?? none);
    starts.set(o, marks.reduce((a, b) => (b.pos < a.pos ? b : a)));
    covered[o] = Math.max(...marks.map((m) => m.pos));
  }
  const deadline = Date.now() + waitMs;
  let end: number | null;
  while ((end = await coveringEnd(src, copied.map((c) => c.snap))) === null) {
    if (Date.now() > deadline) throw new FerryError(`${source} has not published the changes its copy saw within ${waitMs} ms: is \`ferry run\` running in ${source}? Run \`ferry bootstrap\` again once it is (the copy is kept)`);
    await sleep(100);
  }
  covered[source] = Math.max(covered[source] ?? 0, end);
  const clock = Number((await src.query<{ c: string }>(`select pg_sequence_last_value('ferry.clock') as c`)).rows[0].c ?? 0);
  await inTransaction(dst, async () => {
    for (const [origin, m] of starts) await startApplied(dst, { origin, ...m });
    await placeCopiedVersions(dst, source, covered[source]);
    await dst.query('select ferry.advance_clock($1)', [clock + 1]);
    await finishBootstrap(dst, covered);
  });
  const start = Object.fromEntries([...starts].map(([o, m]) => [o, m.pos]));
  say.say(`bootstrapped from ${source}; each stream starts at ${Object.entries(start).map(([o, p]) => `${o} ${p}`).join(', ')}: start \`ferry run\` here`);
  return start;
}

async function open(url: string, what: string, origin: string): Promise<Client> {
  let c: Client;
  try {
    c = await connect(url, { application_name: 'ferry-bootstrap' });
  } catch (e) {
    throw new FerryError(`cannot connect to ${what === 'this DC' ? "this DC's" : `${what}'s`} database ${safeUrl(url)}: ${(e as Error).message}`, { cause: e });
  }
  try {
    await checkSchema(c);
    await checkOrigin(c, origin);
  } catch (e) {
    await c.end().catch(() => undefined);
    throw new FerryError(`${what} (${safeUrl(url)}): ${(e as Error).message}`, { cause: e });
  }
  return c;
}

/** Test hook: FERRY_FAILPOINT=bootstrap-kill-after:N kills the process (kill -9) inside the copy after N groups. */
function failpoint(groupsDone: number): void {
  const m = /^bootstrap-kill-after:(\d+)$/.exec(process.env.FERRY_FAILPOINT ?? '');
  if (m && groupsDone >= Number(m[1])) process.kill(process.pid, 'SIGKILL');
}
