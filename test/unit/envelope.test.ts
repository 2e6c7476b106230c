import { decodeFrame } from '../../src/protocol/decode';
import { Change, encodeFrames } from '../../src/protocol/envelope';
import { Reassembler } from '../../src/protocol/reassembler';
import { LosslessNumber, parseExact, stringifyExact } from '../../src/protocol/json';
import { StreamError } from '../../src/common/errors';

const meta = { origin: 'dc-a', epoch: 3, tick: 812 };
const change = (pos: number, extra: Partial<Change> = {}): Change => ({
  pos,
  id: 1000 + pos,
  xid: '774421',
  txEnd: true,
  table: 'public.accounts',
  op: 'U',
  key: { aid: pos },
  row: { aid: pos, abalance: 17 },
  old: null,
  at: '2026-11-22T02:40:33.627Z',
  ...extra,
});

describe('frames', () => {
  it('pack consecutive changes under the size limit and decode back to the same changes', () => {
    const changes = Array.from({ length: 200 }, (_, i) => change(i + 1));
    const frames = encodeFrames(meta, changes, 4000);
    expect(frames.length).toBeGreaterThan(1);
    for (const f of frames) expect(Buffer.byteLength(f.body)).toBeLessThanOrEqual(4000);
    const back = frames.flatMap((f) => decodeFrame(f.body).changes);
    expect(back).toEqual(changes);
    expect(frames.map((f) => f.dedupId)).toEqual(frames.map((f) => `dc-a-${f.firstPos}-${f.lastPos}`));
    expect(frames[frames.length - 1].lastPos).toBe(200);
  });

  it('carry the exact json text beside the row image, and nothing when there is none', () => {
    const withText = change(3, { row: { aid: 3, j: { a: 2 }, jb: null }, jsonText: { j: '{ "a":1, "a":2 }', jb: 'null' } });
    const [f] = encodeFrames(meta, [change(2), withText], 100_000);
    const back = decodeFrame(f.body).changes;
    expect(back).toEqual([change(2), withText]);
    expect('jsonText' in back[0]).toBe(false);
    expect(f.body).not.toContain('"jsonText":null');
  });

  it('split a change larger than the limit into ordered chunks that reassemble exactly, in any order, duplicates included', () => {
    const big = change(7, { row: { aid: 7, doc: '😀ü'.repeat(5000), n: new LosslessNumber('12345678901234567890.10') } });
    const frames = encodeFrames(meta, [change(6), big, change(8)], 3000);
    const chunkFrames = frames.filter((f) => f.firstPos === 7);
    expect(chunkFrames.length).toBeGreaterThan(3);
    for (const f of frames) expect(Buffer.byteLength(f.body)).toBeLessThanOrEqual(3000);
    const re = new Reassembler();
    const shuffled = [...chunkFrames].reverse();
    shuffled.splice(1, 0, chunkFrames[0]); // a duplicate piece
    const out = shuffled.map((f) => re.add(decodeFrame(f.body))).filter(Boolean);
    expect(out).toHaveLength(1);
    expect(stringifyExact(out[0])).toBe(stringifyExact(big));
    // a late duplicate piece of an already applied change is dropped once the applier moves past it
    re.forgetUpTo(7);
    expect(re.pendingCount).toBe(0);
  });

  it('reject malformed frames with the origin, tick and position in the error, never a crash', () => {
    const good = JSON.parse(encodeFrames(meta, [change(5)], 10_000)[0].body);
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const bad = (mut: (f: Record<string, any>) => void) => {
      const f = structuredClone(good);
      mut(f);
      return () => decodeFrame(JSON.stringify(f));
    };
    expect(() => decodeFrame('{not json')).toThrow(StreamError);
    expect(bad((f) => (f.v = 2))).toThrow(/protocol version 2/);
    expect(bad((f) => (f.changes[0].op = 'X'))).toThrow(/op must be one of .*origin dc-a, tick 812, pos 5/);
    expect(bad((f) => (f.changes[0].pos = -1))).toThrow(/pos must be an integer/);
    expect(bad((f) => (f.changes = []))).toThrow(/carry changes or a chunk/);
    expect(bad((f) => f.changes.push({ ...f.changes[0], pos: 9 }))).toThrow(/consecutive/);
    expect(bad((f) => delete f.changes[0].txEnd)).toThrow(/txEnd/);
    expect(bad((f) => (f.changes[0].jsonText = { j: 1 }))).toThrow(/jsonText\.j must be a string/);
    expect(bad((f) => (f.changes[0].jsonText = ['null']))).toThrow(/jsonText must be an object/);
  });
});

describe('exact JSON', () => {
  it('keeps digits that a double would lose, and plain numbers plain', () => {
    const text = '{"a":12345678901234567890,"b":0.10,"c":1.5,"d":[1,2],"e":-9223372036854775808,"f":1e400}';
    const v = parseExact(text) as Record<string, unknown>;
    expect(v.c).toBe(1.5);
    expect(v.d).toEqual([1, 2]);
    expect(stringifyExact(v)).toBe(text);
  });
});
