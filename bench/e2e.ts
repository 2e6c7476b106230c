// End-to-end rate: changes/s from commit in dc-a to applied in dc-b AND dc-c, over Kafka and SQS,
// with every DC running `ferry run` as its own process; plus single-row latency (commit in dc-a
// to visible in dc-b), median and p95 of 20 samples.
import { Client } from 'pg';
import { sql } from '../test/support/db';
import { createMesh } from '../test/support/mesh';
import { TransportKind, waitFor } from '../test/support/origin';
import { rate, report, Row } from './report';

const N = Number(process.env.BENCH_CHANGES ?? 50_000);
const DDL = `create table public.events (id bigint primary key, kind text not null, payload text);`;

async function applied(url: string, origin: string): Promise<number> {
  const r = await sql<{ pos: string }>(url, 'select pos from ferry.applied where origin = $1', [origin]);
  return Number(r[0]?.pos ?? 0);
}

async function one(kind: TransportKind): Promise<Row> {
  const mesh = await createMesh(kind, DDL, ['public.events']);
  try {
    for (const dc of mesh.dcs) mesh.spawn(dc, 'run');
    await new Promise((r) => setTimeout(r, 4000));
    // latency: one row at a time, committed in dc-a, watched for in dc-b every 2 ms
    const lat: number[] = [];
    const [wa, wb] = [new Client({ connectionString: mesh.url['dc-a'] }), new Client({ connectionString: mesh.url['dc-b'] })];
    await Promise.all([wa.connect(), wb.connect()]);
    for (let i = 0; i < 20; i++) {
      const id = 10_000_000 + i;
      const t = Date.now();
      await wa.query(`insert into events values ($1, 'ping', null)`, [id]);
      await waitFor(async () => (await wb.query('select 1 from events where id = $1', [id])).rows.length > 0 || undefined, 30_000, 'a row at dc-b', 2);
      lat.push(Date.now() - t);
      await new Promise((r) => setTimeout(r, 200));
    }
    await Promise.all([wa.end(), wb.end()]);
    lat.sort((a, b) => a - b);
    const base = await applied(mesh.url['dc-b'], 'dc-a');
    const writer = new Client({ connectionString: mesh.url['dc-a'] });
    await writer.connect();
    const t0 = Date.now();
    for (let i = 0; i < N; i += 500) {
      await writer.query(`insert into events select g, 'click', md5(g::text) from generate_series($1::bigint, $1::bigint + 499) g`, [i + 1]);
    }
    const writeMs = Date.now() - t0;
    await writer.end();
    await waitFor(async () => ((await applied(mesh.url['dc-b'], 'dc-a')) >= base + N && (await applied(mesh.url['dc-c'], 'dc-a')) >= base + N) || undefined, 900_000, 'applied in dc-b and dc-c');
    const ms = Date.now() - t0;
    return {
      transport: kind,
      changes: N,
      'write s': +(writeMs / 1000).toFixed(2),
      'until applied in both s': +(ms / 1000).toFixed(2),
      'e2e changes/s': rate(N, ms),
      'latency p50 ms': lat[10],
      'latency p95 ms': lat[18],
    };
  } finally {
    await mesh.close();
  }
}

async function main() {
  const rows: Row[] = [];
  for (const kind of ['kafka', 'sqs'] as const) rows.push(await one(kind));
  report('end-to-end-rate', rows, [
    'Three DCs, each `ferry run` in its own process, three PostgreSQL clusters, Kafka and ElasticMQ, all on one 2-core machine.',
    'Writer: transactions of 500 inserts into dc-a; timed from the first write until dc-b and dc-c both record the last position applied.',
  ]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
