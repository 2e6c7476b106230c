// The applier's pipeline of statements (src/apply/pipeline.ts): statements go out as they are
// issued, and which failure is reported. The connection here is a stand-in that records what was
// sent and lets each test finish the statements; what the pipelined bulk path writes is tested
// against PostgreSQL (bulk-vs-serial, apply-races and the end-to-end tests).
import type { QueryResult } from 'pg';
import type { Queryable } from '../../src/common/db';
import { Pipeline } from '../../src/apply/pipeline';

/** A connection that answers nothing by itself: `finish(i)` ends the i-th statement sent. */
class Connection {
  readonly sent: string[] = [];
  private readonly ends: { resolve: (r: QueryResult) => void; reject: (e: Error) => void }[] = [];
  query(text: string): Promise<QueryResult> {
    this.sent.push(text);
    return new Promise((resolve, reject) => this.ends.push({ resolve, reject }));
  }
  finish(i: number, err: Error | null = null, rowCount = 1): void {
    if (err) this.ends[i].reject(err);
    else this.ends[i].resolve({ rows: [], rowCount } as unknown as QueryResult);
  }
}

const tick = () => new Promise((r) => setImmediate(r));
const pipe = (c: Connection) => new Pipeline(c as unknown as Queryable);

describe('Pipeline', () => {
  it('sends every statement as it is issued, without waiting for the one before', async () => {
    const c = new Connection();
    const p = pipe(c);
    const all = ['a', 'b', 'c'].map((x) => p.query(x));
    expect(c.sent).toEqual(['a', 'b', 'c']);
    c.finish(2);
    c.finish(1);
    c.finish(0);
    await Promise.all(all);
  });

  it('drain reports the first failure in statement order, as its check says it', async () => {
    const c = new Connection();
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

  it("a statement's failure mapped by its check is reported as the check says, not raw", async () => {
    const c = new Connection();
    const p = pipe(c);
    const unique = Object.assign(new Error('duplicate key'), { code: '23505' });
    const race = new Error('a row committed since it was looked for');
    p.send(
      p.query('insert').catch(() => {
        throw race;
      }),
    );
    const after = p.query('select');
    c.finish(0, unique);
    c.finish(1, new Error('current transaction is aborted'));
    await expect(after).rejects.toBe(race);
    await expect(p.drain()).rejects.toBe(race);
  });

  it('a statement awaited after a failed check fails with that check', async () => {
    const c = new Connection();
    const p = pipe(c);
    const race = new Error('a local write came between');
    p.send(p.query('a').then(() => Promise.reject(race)));
    const b = p.query('b');
    c.finish(0);
    c.finish(1);
    await expect(b).rejects.toBe(race);
  });

  it('drain waits for every check sent', async () => {
    const c = new Connection();
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
