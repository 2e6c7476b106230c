// Forwarder publish rate (changes/s) to Kafka and to SQS on a simple insert workload.
//   make bench   (or: node .ferry/build/bench/forward.js with .ferry/services.env sourced)
// Two shapes: "backlog" publishes N changes captured while no forwarder ran (one large batch,
// streamed); "live" publishes while a writer commits transactions of 100 rows.
import { Client } from 'pg';
import { dropDatabase, freshDatabase, withClient } from '../test/support/db';
import { prepareOrigin, startForwarder, testConfig, TransportKind, waitFor } from '../test/support/origin';
import { rate, report, Row } from './report';
import { publishedPosition } from '../src/tables/ticks';

const N = Number(process.env.BENCH_CHANGES ?? 50_000);
const DDL = `create table public.events (id bigint primary key, kind text not null, payload text, at timestamptz not null default now());`;

async function published(url: string): Promise<number> {
  return withClient(url, publishedPosition);
}

/** One connection for the whole run, as an application would hold one. */
async function insert(url: string, from: number, count: number, perTx: number) {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    for (let i = 0; i < count; i += perTx) {
      await c.query(`insert into events (id, kind, payload) select g, 'click', md5(g::text) from generate_series($1::bigint, $1::bigint + $2 - 1) g`, [from + i, Math.min(perTx, count - i)]);
    }
  } finally {
    await c.end();
  }
}

async function one(kind: TransportKind, shape: 'backlog' | 'live'): Promise<Row> {
  const url = await freshDatabase('a');
  try {
    await prepareOrigin(url, DDL, ['public.events']);
    const cfg = testConfig(url, kind, { forward: { tickIntervalMs: 50 } });
    let t0: number;
    let fwd;
    if (shape === 'backlog') {
      await insert(url, 1, N, 5000);
      t0 = Date.now();
      fwd = startForwarder(cfg);
    } else {
      fwd = startForwarder(cfg);
      await new Promise((r) => setTimeout(r, 1000));
      t0 = Date.now();
      await insert(url, 1, N, 100);
    }
    await waitFor(async () => (await published(url)) >= N || undefined, 600_000, 'all changes published');
    const ms = Date.now() - t0;
    await fwd.stop();
    return { transport: kind, shape, changes: N, seconds: +(ms / 1000).toFixed(2), 'changes/s': rate(N, ms) };
  } finally {
    await dropDatabase(url);
  }
}

async function main() {
  const rows: Row[] = [];
  for (const kind of ['kafka', 'sqs'] as const) for (const shape of ['backlog', 'live'] as const) rows.push(await one(kind, shape));
  report('forward-publish-rate', rows, [
    'Insert rows are ~80 bytes of payload; frames up to 512 KB (Kafka) / 250 KB (SQS, 10 per SendMessageBatch, one queue).',
    '"live" includes the writer: the rate is bounded by whichever is slower. All services share one 2-core machine.',
  ]);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
