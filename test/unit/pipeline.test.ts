// The applier's pipeline of statements (src/apply/pipeline.ts): the order the statements go out in,
// when they go out, and which failure is reported. The connection here is a stand-in that records
// what was sent and lets each test finish the statements; what the pipelined bulk path writes is
// tested against PostgreSQL (bulk-vs-serial, apply-races and the end-to-end tests).
import type { QueryResult } from 'pg';
import type { Queryable } from '../../src/common/db';
import { Pipeline } from '../../src/apply/pipeline';

type Done = (err: Error | null, res: QueryResult) => void;

/** A connection that answers nothing by itself: `finish(i)` ends the i-th statement sent. */
class Connection {
  readonly sent: string[] = [];
  readonly log: string[] = [];
  private readonly callbacks: Done[] = [];
  constructor(readonly pipeline = false) {}
  query(text: string, values: unknown, cb?: Done): void {
    this.sent.push(text);
    this.log.push(`sent ${text}`);
    this.callbacks.push((cb ?? values) as Done);
  }
  finish(i: number, err: Error | null = null, rowCount = 1): void {
    this.callbacks[i](err, { rows: [], rowCount } as unknown as QueryResult);
  }
}

const tick = () => new Promise((r) => setImmediate(r));
const pipe = (c: Connection) => new Pipeline(c as unknown as Queryable);

describe('Pipeline', () => {
  it('sends the next statement when the one before is done, before its result is taken in', async () => {
    const c = new Connection();
    const p = pipe(c);
    const a = p.query('a').then(() => c.log.push('result a'));
    const b = p.query('b', [1]).then(() => c.log.push('result b'));
    expect(c.sent).toEqual(['a']);
    c.finish(0);
    await a;
    expect(c.log).toEqual(['sent a', 'sent b', 'result a']);
    c.finish(1);
    await b;
    await p.drain();
  });

  it('sends every statement at once on a connection in pipeline mode', async () => {
    const c = new Connection(true);
    const p = pipe(c);
    const all = ['a', 'b', 'c'].map((x) => p.query(x));
    expect(c.sent).toEqual(['a', 'b', 'c']);
    c.finish(2);
    c.finish(1);
    c.finish(0);
    await Promise.all(all);
  });

  it('sends nothing after a failed statement; what follows fails with that failure', async () => {
    const c = new Connection();
    const p = pipe(c);
    const boom = Object.assign(new Error('duplicate key'), { code: '23505' });
    const a = p.query('a');
    const b = p.query('b');
    c.finish(0, boom);
    await expect(a).rejects.toBe(boom);
    await expect(b).rejects.toBe(boom);
    expect(c.sent).toEqual(['a']);
    await expect(p.query('c')).rejects.toBe(boom);
    expect(c.sent).toEqual(['a']);
  });

  it('drain reports the first failure in statement order, as its check says it', async () => {
    const c = new Connection(true);
    const p = pipe(c);
    const race = new Error('a local write came between');
    // a: a row count short by one (a race); b: fails because the transaction is aborted by then
    p.send(
      p.query('a').then((r) => {
        if (r.rowCount !== 2) throw race;
      }),
    );
    p.send(p.query('b'));
    c.finish(1, new Error('current transaction is aborted'));
    await tick();
    c.finish(0, null, 1);
    await expect(p.drain()).rejects.toBe(race);
  });

  it('a statement awaited after a failed check fails with that check', async () => {
    const c = new Connection(true);
    const p = pipe(c);
    const race = new Error('a local write came between');
    p.send(p.query('a').then(() => Promise.reject(race)));
    const b = p.query('b');
    c.finish(0);
    c.finish(1);
    await expect(b).rejects.toBe(race);
  });

  it('drain waits for every check sent', async () => {
    const c = new Connection(true);
    const p = pipe(c);
    let checked = false;
    p.send(p.query('a').then(() => void (checked = true)));
    const drained = p.drain();
    await tick();
    expect(checked).toBe(false);
    c.finish(0);
    await drained;
    expect(checked).toBe(true);
  });
});
