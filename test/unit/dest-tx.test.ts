// The destination transaction's states: which calls are legal where, what a rollback gives back,
// and what happens after a failure. No services: the database client is a recorder.
import type { PoolClient } from 'pg';
import { afterFailure, DestinationTransaction } from '../../src/apply/dest-tx';
import { FencedError, FerryError, StreamError } from '../../src/common/errors';
import type { Change } from '../../src/protocol/envelope';

function fakeDb(failOn?: RegExp) {
  const sent: string[] = [];
  const db = {
    query: async (text: string) => {
      sent.push(text);
      if (failOn?.test(text)) throw Object.assign(new Error(`boom on ${text}`), { code: '23505', detail: 'Key (id)=(1) already exists.' });
      return { rows: [], rowCount: 0 };
    },
  };
  return { db: db as unknown as PoolClient, sent };
}

const c = (pos: number, txEnd = true): Change => ({ pos, id: pos, xid: '1', txEnd, table: 'public.t', op: 'I', key: `{"id": ${pos}}`, row: `{"id": ${pos}}`, old: null, at: '', ms: pos });
const writeOk = async () => undefined;

describe('DestinationTransaction', () => {
  it('idle → open → committing → idle, with the bookkeeping inside the transaction', async () => {
    const { db, sent } = fakeDb();
    const tx = new DestinationTransaction(db, 'dc-a');
    expect(tx.state).toBe('idle');
    await tx.begin(false);
    expect(tx.state).toBe('open');
    await tx.write([c(1), c(2)], writeOk);
    let seenState = '';
    const done = await tx.commit(async (d) => {
      seenState = tx.state;
      await d.query('update ferry.applied …');
    });
    expect(seenState).toBe('committing');
    expect(done).toBe(2);
    expect(tx.state).toBe('idle');
    // begin and the origin's tag in one round trip
    expect(sent[0]).toBe(`begin; select set_config('ferry.origin', 'dc-a', true)`);
    expect(sent.slice(-2)).toEqual(['update ferry.applied …', 'commit']);
  });

  it('rollback gives back every change written, also after a failed commit', async () => {
    const { db, sent } = fakeDb(/^commit$/);
    const tx = new DestinationTransaction(db, 'dc-a');
    await tx.begin(false);
    await tx.write([c(1, false)], writeOk);
    await tx.write([c(2)], writeOk);
    await expect(tx.commit(async () => undefined)).rejects.toThrow(/boom/);
    expect(tx.state).toBe('committing');
    const back = await tx.rollback();
    expect(back.changes!.map((x) => x.pos)).toEqual([1, 2]);
    expect(back).toMatchObject({ count: 2, lastPos: 2 });
    expect(tx.state).toBe('idle');
    expect(sent[sent.length - 1]).toBe('rollback');
    expect((await tx.rollback()).changes).toEqual([]);
  });

  it('a transaction larger than keepLimit is not held whole: its rollback says to read it again', async () => {
    const { db } = fakeDb();
    const tx = new DestinationTransaction(db, 'dc-a', 3);
    await tx.begin(false);
    await tx.write([c(1, false), c(2, false)], writeOk);
    await tx.write([c(3, false), c(4, false), c(5)], writeOk);
    expect(tx.size).toBe(5);
    expect(await tx.rollback()).toEqual({ changes: null, count: 5, lastPos: 5 });
    // and the next transaction is held again
    await tx.begin(false);
    await tx.write([c(6)], writeOk);
    expect((await tx.rollback()).changes!.map((x) => x.pos)).toEqual([6]);
  });

  it('isolating: a transaction opened to find the change at fault', async () => {
    const { db } = fakeDb();
    const tx = new DestinationTransaction(db, 'dc-a');
    await tx.begin(true);
    expect(tx.state).toBe('isolating');
    expect(tx.isolating).toBe(true);
    expect(tx.isOpen).toBe(true);
    await tx.write([c(7)], writeOk);
    await tx.commit(async () => undefined);
    expect(tx.state).toBe('idle');
  });

  it('illegal calls fail at once with the state they were made in', async () => {
    const { db } = fakeDb();
    const tx = new DestinationTransaction(db, 'dc-a');
    await expect(tx.write([c(1)], writeOk)).rejects.toThrow(/add\(\) called in state idle/);
    await expect(tx.commit(async () => undefined)).rejects.toThrow(/commit\(\) called in state idle/);
    await tx.begin(false);
    await expect(tx.begin(false)).rejects.toThrow(/begin\(\) called in state open/);
    await tx.fail();
    expect(tx.state).toBe('failed');
    await expect(tx.begin(false)).rejects.toThrow(/begin\(\) called in state failed/);
  });

  it('explain names the change at fault, its table and key, and the SQLSTATE', async () => {
    const { db } = fakeDb();
    const tx = new DestinationTransaction(db, 'dc-a');
    await tx.begin(true);
    const err = Object.assign(new Error('duplicate key value'), { code: '23505', detail: 'Key (id)=(7) already exists.' });
    await expect(tx.write([c(7)], async () => Promise.reject(err))).rejects.toBe(err);
    const e = tx.explain(err);
    expect(e).toBeInstanceOf(StreamError);
    expect(e.message).toBe('applying position 7 (I public.t {"id": 7}) failed: duplicate key value (Key (id)=(7) already exists.) [SQLSTATE 23505] (origin dc-a, pos 7)');
    expect(e.where.pos).toBe(7);
  });
});

describe('afterFailure', () => {
  const group = { count: 3, lastPos: 3 };
  it('another leader: end the session', () => expect(afterFailure(new FencedError('x'), group, 0)).toEqual({ kind: 'fenced' }));
  it('a retriable error: try again', () => {
    expect(afterFailure(Object.assign(new Error('x'), { code: '40P01' }), group, 0)).toEqual({ kind: 'retry' });
    expect(afterFailure(new FerryError('x', { retriable: true }), group, 0)).toEqual({ kind: 'retry' });
  });
  it('a failed group: isolate up to its last position', () => expect(afterFailure(new Error('23505'), group, 0)).toEqual({ kind: 'isolate', to: 3 }));
  it('a single change, or a failure while isolating: stop the stream', () => {
    expect(afterFailure(new Error('x'), { count: 1, lastPos: 1 }, 0)).toEqual({ kind: 'stop' });
    expect(afterFailure(new Error('x'), group, 3)).toEqual({ kind: 'stop' });
  });
});
