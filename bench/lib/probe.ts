// Commit → visible, timed from the outside: a writer inserts numbered probe rows into the tracked
// probe table in the origin, and a watcher on a held connection in a destination polls for them.
// Ferry applies in commit order, so a probe visible in a destination means everything committed
// before it is there too: the same probe marks the end of a load.
import { performance } from 'node:perf_hooks';
import type { Client } from 'pg';
import { sleep } from './stats';

export class ProbeWriter {
  private next = 1;
  /** Commit acknowledged (performance.now() ms) per probe id. */
  readonly committed = new Map<number, number>();
  private running = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly origin: Client,
    readonly firstId = 1,
  ) {
    this.next = firstId;
  }

  /** Inserts one probe in its own transaction; returns its id and transaction id. */
  async write(): Promise<{ id: number; xid: string }> {
    const id = this.next++;
    const r = await this.origin.query<{ xid: string }>('insert into public.bench_probe (id) values ($1) returning pg_current_xact_id()::text as xid', [id]);
    this.committed.set(id, performance.now());
    return { id, xid: r.rows[0].xid };
  }

  /** Writes `perSecond` probes a second on a fixed schedule until stop(). */
  start(perSecond: number): void {
    this.running = true;
    const every = 1000 / perSecond;
    this.loop = (async () => {
      const t0 = performance.now();
      for (let k = 0; this.running; k++) {
        const wait = t0 + k * every - performance.now();
        if (wait > 0) await sleep(wait);
        if (this.running) await this.write();
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

export class ProbeWatcher {
  /** First seen (performance.now() ms when the poll that saw it was sent) per probe id. */
  readonly seen = new Map<number, number>();
  private running = false;
  private loop: Promise<void> | undefined;
  private lowest: number;

  constructor(
    private readonly dest: Client,
    private readonly writer: ProbeWriter,
  ) {
    this.lowest = writer.firstId;
  }

  start(everyMs: number): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.poll();
        await sleep(everyMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  private async poll(): Promise<void> {
    const sent = performance.now();
    const r = await this.dest.query<{ id: string }>('select id from public.bench_probe where id >= $1', [this.lowest]);
    for (const row of r.rows) {
      const id = Number(row.id);
      if (!this.seen.has(id)) this.seen.set(id, sent);
    }
    while (this.seen.has(this.lowest)) this.lowest++;
  }

  /** Waits until probe `id` is visible; false after timeoutMs. */
  async waitFor(id: number, timeoutMs: number, alive: () => void = () => undefined): Promise<boolean> {
    const end = performance.now() + timeoutMs;
    while (!this.seen.has(id)) {
      alive();
      if (performance.now() > end) return false;
      if (!this.running) await this.poll();
      await sleep(this.running ? 5 : 20);
    }
    return true;
  }

  /** Commit → visible in ms for every probe seen, and the ages of those never seen (at `now`). */
  latencies(include: (id: number) => boolean = () => true, now = performance.now()): { seen: number[]; unseen: number[] } {
    const seen: number[] = [];
    const unseen: number[] = [];
    for (const [id, at] of this.writer.committed) {
      if (!include(id)) continue;
      const s = this.seen.get(id);
      if (s !== undefined) seen.push(Math.max(0, s - at));
      else unseen.push(now - at);
    }
    return { seen, unseen };
  }
}
