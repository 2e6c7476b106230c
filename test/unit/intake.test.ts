// The intake ledger: what arrives (out of order, twice, with gaps, in chunks), what can be applied
// next, and which deliveries a commit lets go of. No services.
import { IntakeLedger } from '../../src/apply/intake';
import { StreamError } from '../../src/common/errors';
import { Change, encodeFrames, encodeHeartbeat } from '../../src/protocol/envelope';
import type { Delivery } from '../../src/transport/types';

const ORIGIN = 'dc-a';
const AT = '2026-11-28T00:00:00.000Z';

function change(pos: number, txEnd = true, v = `v${pos}`): Change {
  return { pos, id: pos, xid: String(1000 + pos), txEnd, table: 'public.t', op: 'I', key: `{"id": ${pos}}`, row: JSON.stringify({ id: pos, v }), old: null, at: AT, ms: pos };
}

/** One delivery per frame, carrying the given changes, with a Kafka-like offset. */
let offset = 0;
function deliveries(changes: Change[], tick = 1, maxBytes = 100_000): Delivery[] {
  return encodeFrames({ origin: ORIGIN, epoch: 1, tick, at: AT }, changes, maxBytes).map((f) => ({ body: f.body, origin: ORIGIN, offset: String(offset++) }));
}

const ledger = (applied = 0) => new IntakeLedger(ORIGIN, { applied, offset: null, seen: applied }, 1000);
const positions = (cs: Change[]) => cs.map((c) => c.pos);

beforeEach(() => (offset = 0));

describe('IntakeLedger', () => {
  it("read-your-writes: a tick's snapshot is released only with the last frame of its batch", () => {
    const l = ledger();
    // batch of tick 7 is positions 1..3, cut into two frames; tick 8 is position 4 alone
    const meta = { origin: ORIGIN, epoch: 1, tick: 7, at: AT, snap: '100:105:101', end: 3 };
    const [f1, f2] = encodeFrames(meta, [change(1), change(2), change(3)], 400).map((f) => ({ body: f.body, origin: ORIGIN, offset: String(offset++) }));
    expect(f2).toBeDefined();
    const [g] = encodeFrames({ ...meta, tick: 8, snap: '104:110:', end: 4 }, [change(4)], 100_000).map((f) => ({ body: f.body, origin: ORIGIN, offset: String(offset++) }));
    l.receive(f1);
    l.receive(f2);
    l.receive(g);
    const first = JSON.parse(f1.body).changes.length as number;
    expect(l.releasable(first).snap).toBeNull(); // the batch goes on: its snapshot is not true yet
    expect(l.releasable(3).snap).toEqual({ snap: '100:105:101', tick: 7 });
    expect(l.releasable(4).snap).toEqual({ snap: '104:110:', tick: 8 });
    // a heartbeat after position 4 carries the next (empty) tick's snapshot
    l.applyCommitted(4);
    l.receive({ body: encodeHeartbeat({ ...meta, tick: 9, snap: '111:111:', end: 4 }, 4).body, origin: ORIGIN, offset: String(offset++) });
    expect(l.takeDuplicates().snap).toEqual({ snap: '111:111:', tick: 9 });
  });

  it('out of order: nothing is ready until the next position arrives, then all in order', () => {
    const l = ledger();
    const [d1, d2, d3] = [1, 2, 3].map((p) => deliveries([change(p)])[0]);
    l.receive(d3);
    l.receive(d2);
    expect(l.take(10)).toEqual([]);
    expect(l.waiting(false)).toBe('gap');
    l.receive(d1);
    expect(l.waiting(false)).toBeNull();
    expect(positions(l.take(10))).toEqual([1, 2, 3]);
    expect(l.seen).toBe(3);
  });

  it('duplicates: a change delivered twice is taken once; a delivery of applied positions is let go', () => {
    const l = ledger();
    const [a] = deliveries([change(1), change(2)]);
    const [again] = deliveries([change(1), change(2)]);
    l.receive(a);
    l.receive(again);
    expect(positions(l.take(10))).toEqual([1, 2]);
    expect(l.take(10)).toEqual([]);
    const r = l.applyCommitted(2);
    expect(r.ack).toEqual([a, again]);
    // a re-publish arriving after the commit: nothing to apply, its delivery is a duplicate
    const [late] = deliveries([change(2)]);
    l.receive(late);
    expect(l.take(10)).toEqual([]);
    expect(l.takeDuplicates()).toEqual({ ack: [late], seen: {}, snap: null });
  });

  it('gap: names the missing position, the first change held after it and that change\'s tick', () => {
    const l = ledger(10);
    l.receive(deliveries([change(11)], 5)[0]);
    l.receive(deliveries([change(13), change(14)], 7)[0]);
    expect(positions(l.take(10))).toEqual([11]);
    expect(l.waiting(false)).toBe('gap');
    const g = l.gap();
    expect(g.nextPos).toBe(12);
    expect(g.firstHeld?.pos).toBe(13);
    expect(g.tickOfFirstHeld).toBe(7);
  });

  it('chunked: a large change is ready only when every piece is in; pieces may repeat', () => {
    const l = ledger();
    const big = change(1, true, 'x'.repeat(5000));
    const pieces = deliveries([big], 1, 1500);
    expect(pieces.length).toBeGreaterThan(3);
    for (const p of pieces.slice(0, -1)) l.receive(p);
    l.receive(pieces[0]);
    expect(l.take(10)).toEqual([]);
    expect(l.waiting(false)).toBe('chunks');
    l.receive(pieces[pieces.length - 1]);
    expect(l.take(10)).toEqual([big]);
    // every piece is held until the change is applied, and all are let go together
    expect(l.releasable(0).ack).toEqual([]);
    expect(l.applyCommitted(1).ack).toHaveLength(pieces.length + 1);
  });

  it('a chunk whose count does not fit its siblings is malformed: it throws and changes nothing', () => {
    const l = ledger();
    const pieces = deliveries([change(1, true, 'y'.repeat(5000))], 1, 1500);
    l.receive(pieces[0]);
    const forged = { ...pieces[1], body: pieces[1].body.replace(/"count":\d+/, '"count":99') };
    expect(() => l.receive(forged)).toThrow(StreamError);
    expect(() => l.receive({ body: 'not json', origin: ORIGIN })).toThrow(/malformed frame/);
    expect(l.seen).toBe(1);
  });

  it('partial delivery: a delivery is let go only when all of it is applied, in arrival order', () => {
    const l = ledger();
    const [d1] = deliveries([change(1, false), change(2, true)]);
    const [d2] = deliveries([change(3, false), change(4, true)]);
    l.receive(d1);
    l.receive(d2);
    expect(positions(l.take(3))).toEqual([1, 2, 3]);
    let r = l.applyCommitted(2);
    expect(r.ack).toEqual([d1]);
    expect(r.offset).toBe(d1.offset);
    expect(l.releasable(3).ack).toEqual([]);
    expect(l.releasable(3).offset).toBe(d1.offset);
    expect(positions(l.take(3))).toEqual([4]);
    r = l.applyCommitted(4);
    expect(r.ack).toEqual([d2]);
    expect(r.offset).toBe(d2.offset);
    expect(l.applied).toBe(4);
  });

  it('rest of a transaction: an open destination transaction with nothing held waits', () => {
    const l = ledger();
    l.receive(deliveries([change(1, false)])[0]);
    expect(positions(l.take(10))).toEqual([1]);
    expect(l.waiting(true)).toBe('rest-of-transaction');
    expect(l.waiting(false)).toBeNull();
  });

  it('rollback: changes put back are taken again, in order', () => {
    const l = ledger();
    l.receive(deliveries([change(1, false), change(2), change(3)])[0]);
    const taken = l.take(2);
    l.putBack(taken);
    expect(positions(l.take(10))).toEqual([1, 2, 3]);
  });

  it('spill: hands over the deliveries with unapplied changes to keep, all of them to acknowledge', () => {
    const l = ledger();
    const [d1] = deliveries([change(1)]);
    const [d3] = deliveries([change(3)]);
    expect(l.spill()).toBeNull();
    l.receive(d1);
    l.receive(d3);
    l.take(10);
    l.applyCommitted(1);
    l.receive(d1); // a duplicate arriving later
    const s = l.spill()!;
    expect(s.keep.map((k) => k.maxPos)).toEqual([3]);
    expect(s.ack).toEqual([d3, d1]);
    expect(l.spill()).toBeNull();
    // the change itself stays held; a frame read back from the inbox adds nothing twice
    l.receiveStored(d3.body);
    expect(l.size).toBe(1);
  });

  it('the origin\'s vector: the one of the last delivery let go; a heartbeat holds no change but moves it', () => {
    const l = ledger();
    const at = (tick: number, seen: Record<string, number>, cs: Change[]) =>
      encodeFrames({ origin: ORIGIN, epoch: 1, tick, at: AT, seen }, cs, 100_000).map((f) => ({ body: f.body, origin: ORIGIN }))[0];
    l.receive(at(1, { 'dc-b': 3 }, [change(1)]));
    l.receive(at(2, { 'dc-b': 5 }, [change(2)]));
    l.take(10);
    expect(l.applyCommitted(2).seen).toEqual({ 'dc-b': 5 });
    l.receive({ body: encodeHeartbeat({ origin: ORIGIN, epoch: 1, tick: 3, at: AT, seen: { 'dc-b': 9 } }, 2).body, origin: ORIGIN });
    expect(l.take(10)).toEqual([]);
    expect(l.waiting(false)).toBeNull();
    expect(l.takeDuplicates().seen).toEqual({ 'dc-b': 9 });
  });

  it('reset: forgets everything received, keeps the applied position', () => {
    const l = ledger(4);
    l.receive(deliveries([change(6)])[0]);
    l.reset();
    expect(l.size).toBe(0);
    expect(l.waiting(false)).toBeNull();
    expect(l.nextPos).toBe(5);
  });

  it('without keepBodies a held delivery keeps its offset, not its body (a huge transaction is not held twice)', () => {
    const l = new IntakeLedger(ORIGIN, { applied: 0, offset: null, seen: 0 }, 1000, false);
    const [d] = deliveries([change(1)]);
    l.receive(d);
    expect(positions(l.take(10))).toEqual([1]);
    const r = l.applyCommitted(1);
    expect(r.ack).toEqual([{ body: '', origin: ORIGIN, offset: d.offset }]);
    expect(r.offset).toBe(d.offset);
  });

  it('frames of another origin are refused', () => {
    const l = ledger();
    const [d] = encodeFrames({ origin: 'dc-x', epoch: 1, tick: 1, at: AT }, [change(1)], 100_000).map((f) => ({ body: f.body, origin: ORIGIN }));
    expect(() => l.receive(d)).toThrow(/frame of origin dc-x arrived on the stream of dc-a/);
  });
});
