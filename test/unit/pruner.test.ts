// The pruner's loop beside the publishing loop: a failed round is logged and the next one comes,
// and stopping ends it. (What a round does is tested against PostgreSQL: prune.test.ts and the
// forwarder's volume test.)
import pino from 'pino';
import type { Pool } from 'pg';
import type { FerryConfig } from '../../src/config/schema';
import { Pruner } from '../../src/forward/pruner';

describe('Pruner.loop', () => {
  it('logs a failed round and goes on with the next; stopping ends the loop', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (l: string) => lines.push(l) });
    const stop = new AbortController();
    const rounds: string[] = [];
    class Flaky extends Pruner {
      override async run(): Promise<void> {
        rounds.push('round');
        if (rounds.length === 1) throw new Error('deadlock detected');
        if (rounds.length === 3) stop.abort();
      }
    }
    await new Flaky({} as Pool, {} as FerryConfig, log, 1).loop(stop.signal);
    expect(rounds).toHaveLength(3);
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ msg: 'pruning failed; trying again in the next round', err: { message: 'deadlock detected' } });
  });

  it('does not run once stopped', async () => {
    const stop = new AbortController();
    stop.abort();
    let ran = 0;
    class Counting extends Pruner {
      override async run(): Promise<void> {
        ran++;
      }
    }
    await new Counting({} as Pool, {} as FerryConfig, pino({ level: 'silent' }), 1).loop(stop.signal);
    expect(ran).toBe(0);
  });
});
