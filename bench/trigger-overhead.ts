// What capture costs the application: pgbench's TPC-B-like script (scale 10, 8 clients) on dc-a,
// in alternating runs without and with Ferry's triggers on all four tables. Reported as the TPS
// ratio tracked/plain of each pair (1.0 = free) — ratios, because this machine is shared.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dropDatabase, freshDatabase, sql } from '../test/support/db';
import { prepareOrigin } from '../test/support/origin';
import { report, Row } from './report';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PAIRS = Number(process.env.BENCH_PAIRS ?? 3);
const TABLES = ['public.pgbench_accounts', 'public.pgbench_branches', 'public.pgbench_tellers', 'public.pgbench_history'];

function pgbenchBin(): string {
  const root = '/usr/lib/postgresql';
  for (const v of existsSync(root) ? readdirSync(root).sort().reverse() : []) if (existsSync(`${root}/${v}/bin/pgbench`)) return `${root}/${v}/bin/pgbench`;
  return 'pgbench';
}

function tps(bin: string, url: string): number {
  const out = execFileSync(bin, ['-n', '-c', '8', '-j', '2', '-T', String(SECONDS), url], { encoding: 'utf8' });
  const m = /tps = ([\d.]+)/.exec(out);
  if (!m) throw new Error(`no tps in pgbench output:\n${out}`);
  return Number(m[1]);
}

async function main() {
  const bin = pgbenchBin();
  const url = await freshDatabase('a');
  try {
    execFileSync(bin, ['-i', '-q', '-s', '10', url], { stdio: 'ignore' });
    // pgbench_history has no key; Ferry needs one to identify rows elsewhere
    await sql(url, 'alter table pgbench_history add column hid bigserial primary key');
    await prepareOrigin(url, '', []);
    const rows: Row[] = [];
    for (let p = 1; p <= PAIRS; p++) {
      for (const t of TABLES) await sql(url, 'select ferry.untrack($1::regclass)', [t]);
      const plain = tps(bin, url);
      for (const t of TABLES) await sql(url, 'select ferry.track($1::regclass)', [t]);
      const tracked = tps(bin, url);
      const captured = Number((await sql<{ n: string }>(url, 'select count(*) as n from ferry.changes'))[0].n);
      await sql(url, 'truncate ferry.changes_0, ferry.changes_1, ferry.changes_2');
      rows.push({ pair: p, 'plain tps': Math.round(plain), 'tracked tps': Math.round(tracked), ratio: +(tracked / plain).toFixed(3), 'changes captured': captured });
    }
    const ratios = rows.map((r) => Number(r.ratio)).sort((a, b) => a - b);
    report('trigger-overhead', rows, [
      `median ratio tracked/plain: ${ratios[Math.floor(ratios.length / 2)]} (pgbench TPC-B-like, scale 10, 8 clients, ${SECONDS} s runs, fsync off test cluster; no forwarder running)`,
    ]);
  } finally {
    await dropDatabase(url);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
