// Adding a datacenter (issue 12): `ferry bootstrap --from dc-a` fills an empty dc-c, against what an
// operator would do by hand, `pg_dump --data-only -t <tables> <dc-a> | psql <empty database>` of
// the same tables into an empty database of the same cluster, in the same run. Reported as the
// ratio pg_dump time / bootstrap time (≥ 1.0: the bootstrap is at least as fast). No writes run
// during the copies, so both move the same rows; the rows are then compared in all three.
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createDatabase, dropDatabase, execFormatted, sql, uniq } from './lib/db';
import { ferryCli, writeConfig } from './lib/ferry';
import { compareAll } from './lib/fingerprint';
import { services } from './lib/paths';
import { PGBENCH_TABLES, pgBin, pgbenchBin, TABLE_KEYS } from './lib/pgbench';
import { Results, Row } from './lib/results';
import { settings } from './lib/settings';
import { createDcs, Dcs, log } from './lib/setup';

const BENCH = 'bootstrap';
const run = promisify(execFile);

/** The simple table: a bigint key and a few columns of common built-in types. */
const SIMPLE = 'public.bench_rows';
const SIMPLE_DDL = `create table public.bench_rows (id bigint primary key, name text not null, qty int not null, price numeric(12,2) not null, at timestamptz not null)`;
const TABLES = [SIMPLE, ...PGBENCH_TABLES];
const KEYS: Record<string, string[]> = { [SIMPLE]: ['id'], ...TABLE_KEYS };

/**
 * The tables, with rows only where `rows` is true: pgbench's four (at settings.bootstrapScale,
 * 100k accounts per unit) plus the simple table (settings.bootstrapRows). pgbench -i -I dtp creates
 * the same tables and primary keys with no rows.
 */
async function makeTables(url: string, rows: boolean): Promise<void> {
  await run(pgbenchBin(), ['-i', '-q', '-I', rows ? 'dtgvp' : 'dtp', '-s', String(settings.bootstrapScale), url], { maxBuffer: 16 << 20 });
  await sql(url, 'alter table public.pgbench_history add column hid bigserial primary key');
  await sql(url, SIMPLE_DDL);
  if (!rows) return;
  await sql(
    url,
    `insert into public.bench_rows
       select g, 'row ' || g, g % 1000, (g % 100000) / 100.0, timestamptz '2026-01-01 00:00:00+00' + g * interval '1 second'
         from generate_series(1, $1::bigint) g`,
    [settings.bootstrapRows],
  );
  // a few history rows, so that table is not empty (pgbench -i leaves it so)
  await sql(url, `insert into public.pgbench_history (tid, bid, aid, delta, mtime) select 1 + g % 10, 1, g, g % 100, now() from generate_series(1, 10000) g`);
  // hint bits set and statistics taken now, not by whichever copy reads a table first
  await sql(url, 'vacuum (analyze) public.bench_rows, public.pgbench_history');
}

/** `pg_dump --data-only -t T… src | psql dst`: seconds from start until both have exited. */
function dumpAndLoad(src: string, dst: string, tables: string[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const dump = spawn(pgBin('pg_dump'), ['--data-only', ...tables.flatMap((t) => ['-t', t]), '-d', src], { stdio: ['ignore', 'pipe', 'pipe'] });
    const load = spawn(pgBin('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', dst], { stdio: ['pipe', 'ignore', 'pipe'] });
    dump.stdout.pipe(load.stdin);
    // psql gone early (its error is in err): pg_dump's exit code says the rest
    load.stdin.on('error', () => undefined);
    let err = '';
    dump.stderr.on('data', (b: Buffer) => (err += `pg_dump: ${b}`));
    load.stderr.on('data', (b: Buffer) => (err += `psql: ${b}`));
    const codes: Promise<number | null>[] = [dump, load].map((c) => new Promise((r, j) => (c.once('error', j), c.once('close', r))));
    Promise.all(codes).then(([d, l]) => {
      if (d !== 0 || l !== 0) return reject(new Error(`pg_dump | psql failed (exit ${d} | ${l}): ${err.slice(-2000)}`));
      resolve(Number(process.hrtime.bigint() - t0) / 1e9);
    }, reject);
  });
}

/** `ferry bootstrap --from dc-a --json` in dc-c: seconds from start until it exited, and its report. */
async function bootstrapDc(cfgFile: string): Promise<{ seconds: number; report: { rows: number; seconds: number; copied: { table: string; rows: number }[] } }> {
  const t0 = process.hrtime.bigint();
  const out = await ferryCli(['bootstrap', '--from', 'dc-a', '--json'], cfgFile);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  return { seconds, report: JSON.parse(out.trim().split('\n').pop()!) };
}

export async function bootstrapBench(res: Results): Promise<void> {
  for (let r = 1; r <= settings.runs; r++) {
    let dcs: Dcs | undefined;
    let plain: string | undefined;
    try {
      log(BENCH, `run ${r}: dc-a with ${settings.bootstrapRows} rows of ${SIMPLE} and pgbench scale ${settings.bootstrapScale}; dc-c and a plain database with the tables, empty`);
      // the rows are written before `ferry track`: dc-a holds them as a long-running DC does, nothing waits to be published
      dcs = await createDcs('kafka', ['dc-a', 'dc-c'], (url, dc) => makeTables(url, dc === 'dc-a'), TABLES);
      plain = await createDatabase(services().FERRY_DC_C_URL, uniq('bench_plain_'));
      await makeTables(plain, false);
      const cCfg = writeConfig({ ...dcs.cfg['dc-c'], peerDatabases: { 'dc-a': dcs.url['dc-a'] } });
      // both copies read dc-a's tables from memory, not the first one from disk
      for (const t of TABLES) await execFormatted(dcs.url['dc-a'], 'select count(*) from %I.%I', t.split('.'));

      // alternate which goes first, so neither always gets the quieter machine
      const order = r % 2 === 1 ? ['bootstrap', 'pg_dump'] : ['pg_dump', 'bootstrap'];
      let boot: Awaited<ReturnType<typeof bootstrapDc>> | undefined;
      let dumpS = 0;
      for (const which of order) {
        if (which === 'bootstrap') boot = await bootstrapDc(cCfg);
        else dumpS = await dumpAndLoad(dcs.url['dc-a'], plain, TABLES);
      }
      const b = boot!;
      const cmp = await compareAll([dcs.url['dc-a'], dcs.url['dc-c'], plain], KEYS);
      if (!cmp.identical) throw new Error(`after the copies the tables differ from dc-a's: ${JSON.stringify(cmp.differ)}`);
      const rows = Object.values(cmp.rows).reduce((a, n) => a + n, 0);
      if (b.report.rows !== rows) throw new Error(`ferry bootstrap reported ${b.report.rows} rows copied, dc-a holds ${rows}`);
      const ratio = dumpS / b.seconds;
      res.add(BENCH, 'pg_dump | psql time / ferry bootstrap time', '×', ratio, { headline: true, target: '≥ 1.0 (issue 12)' });
      res.add(BENCH, '`ferry bootstrap --from dc-a` (the command, start to exit)', 's', b.seconds);
      res.add(BENCH, '`pg_dump --data-only -t … | psql`', 's', dumpS);
      res.add(BENCH, 'ferry bootstrap', 'rows/s', rows / b.seconds);
      res.add(BENCH, 'pg_dump | psql', 'rows/s', rows / dumpS);
      const row: Row = {
        run: r,
        first: order[0],
        rows,
        'bootstrap s': +b.seconds.toFixed(2),
        "bootstrap's own report s": +b.report.seconds.toFixed(2),
        'pg_dump | psql s': +dumpS.toFixed(2),
        ratio: +ratio.toFixed(3),
        identical: cmp.identical,
      };
      res.detail(BENCH, row);
      log(BENCH, `run ${r}: ${rows} rows; bootstrap ${b.seconds.toFixed(2)} s, pg_dump | psql ${dumpS.toFixed(2)} s, ratio ${ratio.toFixed(3)}; identical in dc-a, dc-c and the plain database`);
    } finally {
      if (plain) await dropDatabase(plain).catch(() => undefined);
      await dcs?.drop();
    }
  }
  res.note(
    BENCH,
    `Tables: ${SIMPLE} (${settings.bootstrapRows} rows: bigint key, text, int, numeric, timestamptz) and pgbench's four at scale ${settings.bootstrapScale} (pgbench_history with 10 000 rows and the bigserial key Ferry needs), every type built in (so Ferry copies in COPY's binary format). dc-a holds the rows; dc-c has the same tables, empty, \`ferry init\` and \`ferry track\` done, and \`peerDatabases: { dc-a }\`; the plain database is an empty database in dc-c's cluster with the same tables and primary keys, no Ferry.`,
  );
  res.note(
    BENCH,
    'Timed from start to exit of each command: `ferry bootstrap --from dc-a --json` (connects, checks, copies every table in one REPEATABLE READ snapshot of dc-a, records the stream start) and `pg_dump --data-only -t <each table> <dc-a> | psql -X -q -v ON_ERROR_STOP=1 <plain>`. No writes run during the copies (dc-a has nothing unpublished; no `ferry` process runs); dc-a\'s tables are read once before, and the two alternate which goes first. Afterwards an md5 over every row in key order is the same in dc-a, dc-c and the plain database (a run where it is not fails).',
  );
}
