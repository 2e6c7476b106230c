// The applier's lineage check (apply/lineage-gate.ts) on decoded frames: frames without a lineage
// (an older Ferry) pass unchecked, the first lineage is adopted, another is refused naming origin and
// both lineages, and a replaced lineage counts only up to the fork.
import { LineageGate, LineageRefused } from '../../src/apply/lineage-gate';
import { decodeFrame } from '../../src/protocol/decode';
import { encodeFrames, encodeHeartbeat } from '../../src/protocol/envelope';
import type { Change } from '../../src/protocol/envelope';

const change = (pos: number): Change => ({ pos, id: pos, xid: String(700 + pos), txEnd: true, table: 'public.t', op: 'I', key: `{"id": ${pos}}`, row: `{"id": ${pos}}`, old: null, at: '', ms: 1 });
const frame = (lineage: { id: string; since: number } | undefined, from: number, to: number) => {
  const cs = [];
  for (let p = from; p <= to; p++) cs.push(change(p));
  const [f] = encodeFrames({ origin: 'dc-a', epoch: 1, tick: 7, at: '2026-01-01T00:00:00.000Z', seen: {}, lineage }, cs, 1 << 20);
  return decodeFrame(f.body, { origin: 'dc-a' });
};

describe('lineage gate', () => {
  it('frames carry the lineage; frames without one decode and pass unchecked', () => {
    expect(frame({ id: 'L1', since: 0 }, 1, 2).lineage).toEqual({ id: 'L1', since: 0 });
    const old = frame(undefined, 1, 2);
    expect(old.lineage).toBeUndefined();
    const gate = new LineageGate({ id: 'L1', since: 0, retired: [] });
    expect(gate.admit(old)).toBe(old);
    expect(gate.takeAdopted()).toBeNull();
  });

  it('adopts the first lineage seen (trust on first use), once', () => {
    const gate = new LineageGate({ id: null, since: 0, retired: [] });
    const f = frame({ id: 'L1', since: 0 }, 1, 1);
    expect(gate.admit(f)).toBe(f);
    expect(gate.takeAdopted()).toEqual({ id: 'L1', since: 0 });
    expect(gate.takeAdopted()).toBeNull();
    expect(() => gate.admit(frame({ id: 'L2', since: 1 }, 2, 2))).toThrow(LineageRefused);
  });

  it('refuses another lineage, naming the origin, both lineages and the command', () => {
    const gate = new LineageGate({ id: 'L1', since: 0, retired: [] });
    let err: LineageRefused | undefined;
    try {
      gate.admit(frame({ id: 'L2', since: 5 }, 6, 7));
    } catch (e) {
      err = e as LineageRefused;
    }
    expect(err).toBeInstanceOf(LineageRefused);
    expect(err!.offered).toEqual({ id: 'L2', since: 5 });
    expect(err!.message).toMatch(/frames of dc-a carry lineage L2 \(forked at position 5\), but this DC applies lineage L1 of dc-a: .*ferry lineage accept --origin dc-a .*\(origin dc-a, tick 7\)$/);
  });

  it('a replaced lineage counts only up to the fork', () => {
    const gate = new LineageGate({ id: 'L2', since: 5, retired: ['L1'] });
    expect(gate.admit(frame({ id: 'L1', since: 0 }, 4, 7))!.changes.map((c) => c.pos)).toEqual([4, 5]);
    expect(gate.admit(frame({ id: 'L1', since: 0 }, 6, 7))).toBeNull();
    const hb = decodeFrame(encodeHeartbeat({ origin: 'dc-a', epoch: 1, tick: 9, at: '2026-01-01T00:00:00.000Z', seen: {}, lineage: { id: 'L1', since: 0 } }, 8).body);
    expect(gate.admit(hb)).toBeNull();
  });
});
