import { decodeFrame } from '../../src/protocol/decode';
import { Change, encodeFrames, encodeHeartbeat } from '../../src/protocol/envelope';
import { Reassembler } from '../../src/protocol/reassembler';
import { LosslessNumber, parseExact, stringifyExact } from '../../src/protocol/json';
import { StreamError } from '../../src/common/errors';

const AT = '2026-11-22T02:40:33.627Z';
const meta = { origin: 'dc-a', epoch: 3, tick: 812, at: AT };
const change = (pos: number, extra: Partial<Change> = {}): Change => ({
  pos,
  id: 1000 + pos,
  xid: '774421',
  txEnd: true,
  table: 'public.accounts',
  op: 'U',
  key: `{"aid": ${pos}}`,
  row: `{"aid": ${pos}, "abalance": 17}`,
  old: null,
  at: AT,
  ms: 1_795_000_000_000 + pos,
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

  it('carry row images as the text PostgreSQL wrote, digit for digit, and the exact json text beside them', () => {
    const row = '{"n": 12345678901234567890.10, "aid": 3, "doc": "\\"quoted\\" \\\\ ü\\u0001", "j": {"a": 2}, "jb": null}';
    const withText = change(3, { row, jsonText: { j: '{ "a":1, "a":2 }', jb: 'null' } });
    const [f] = encodeFrames(meta, [change(2), withText], 100_000);
    const back = decodeFrame(f.body).changes;
    expect(back).toEqual([change(2), withText]);
    expect(back[1].row).toBe(row);
    expect('jsonText' in back[0]).toBe(false);
    expect(f.body).not.toContain('"jsonText":null');
    expect(f.body).not.toContain('"old"');
  });

  it('carry the vector of the origin, counter shares, and heartbeats that hold no change', () => {
    const seen = { 'dc-b': 41, 'dc-c': 7 };
    const withShares = change(9, { counters: { balance: { 'dc-a': '12.50', '': '100' } } });
    const [f] = encodeFrames({ ...meta, seen }, [withShares], 10_000);
    const back = decodeFrame(f.body);
    expect(back.seen).toEqual(seen);
    expect(back.changes).toEqual([withShares]);
    const hb = decodeFrame(encodeHeartbeat({ ...meta, seen }, 812).body);
    expect(hb).toMatchObject({ changes: [], after: 812, seen, tick: 812 });
  });

  it('escape the characters an SQS message cannot carry, and decode them back', () => {
    const row = '{"aid": 1, "s": "a\uFFFEb\uFFFFc\u0001"}';
    const [f] = encodeFrames(meta, [change(1, { row })], 100_000);
    // eslint-disable-next-line no-control-regex
    expect(f.body).not.toMatch(/[\uFFFE\uFFFF\u0000-\u0008]/);
    expect(decodeFrame(f.body).changes[0].row).toBe(row);
  });

  it('split a change larger than the limit into ordered chunks that reassemble exactly, in any order, duplicates included', () => {
    const big = change(7, { row: `{"aid": 7, "doc": "${'😀ü'.repeat(5000)}", "n": 12345678901234567890.10}` });
    const frames = encodeFrames(meta, [change(6), big, change(8)], 3000);
    const chunkFrames = frames.filter((f) => f.firstPos === 7);
    expect(chunkFrames.length).toBeGreaterThan(3);
    for (const f of frames) expect(Buffer.byteLength(f.body)).toBeLessThanOrEqual(3000);
    const re = new Reassembler();
    const shuffled = [...chunkFrames].reverse();
    shuffled.splice(1, 0, chunkFrames[0]); // a duplicate piece
    const out = shuffled.map((f) => re.add(decodeFrame(f.body))).filter(Boolean);
    expect(out).toEqual([big]);
    // a late duplicate piece of an already applied change is dropped once the applier moves past it
    re.forgetUpTo(7);
    expect(re.pendingCount).toBe(0);
  });

  it('refuse a chunk header that asks for more pieces than Ferry ever sends (nothing is allocated for it)', () => {
    const [piece] = encodeFrames(meta, [change(7, { row: `{"aid": 7, "doc": "${'x'.repeat(5000)}"}` })], 1500);
    const forged = piece.body.replace(/"count":\d+/, '"count":2000000000');
    expect(() => new Reassembler().add(decodeFrame(forged))).toThrow(/2000000000 pieces is more than Ferry ever sends/);
  });

  it('decode version 1 frames (row images as JSON objects), so DCs can be upgraded one at a time', () => {
    const v1 =
      '{"v":1,"origin":"dc-a","epoch":3,"tick":812,"changes":[' +
      '{"pos":5,"id":1005,"xid":"774421","txEnd":false,"table":"public.accounts","op":"U","key":{"aid":5},"row":{"aid":5,"n":12345678901234567890.10},"old":{"aid":4},"at":"2026-11-22T02:40:33.627Z"},' +
      '{"pos":6,"id":1006,"xid":"774421","txEnd":true,"table":"public.accounts","op":"D","key":{"aid":6},"row":null,"old":null,"at":"2026-11-22T02:40:33.627Z"}]}';
    const [u, d] = decodeFrame(v1).changes;
    // keys are written the same way whatever the version, so the same key is the same text
    expect(u.key).toBe('{"aid": 5}');
    expect(u.old).toBe('{"aid": 4}');
    expect(stringifyExact(parseExact(u.row!))).toBe('{"aid":5,"n":12345678901234567890.10}');
    expect(d).toMatchObject({ op: 'D', key: '{"aid": 6}', row: null, at: AT });
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
    expect(bad((f) => (f.v = 9))).toThrow(/protocol version 9 is not one this Ferry reads/);
    expect(bad((f) => (f.changes[0].op = 'X'))).toThrow(/op must be one of .*origin dc-a, tick 812, pos 5/);
    expect(bad((f) => (f.changes[0].pos = -1))).toThrow(/pos must be an integer/);
    expect(bad((f) => (f.changes = []))).toThrow(/must carry changes, a chunk, or be a heartbeat/);
    expect(bad((f) => delete f.changes[0].ms)).toThrow(/ms must be an integer/);
    expect(bad((f) => (f.seen = { 'dc-b': 'x' }))).toThrow(/seen.dc-b must be an integer/);
    expect(bad((f) => (f.changes[0].counters = { n: { 'dc-a': 1 } }))).toThrow(/counters.n.dc-a must be a number as text/);
    expect(bad((f) => f.changes.push({ ...f.changes[0], pos: 9 }))).toThrow(/consecutive/);
    expect(bad((f) => delete f.changes[0].txEnd)).toThrow(/txEnd/);
    expect(bad((f) => (f.changes[0].row = { aid: 5 }))).toThrow(/row must be JSON object text/);
    expect(bad((f) => (f.changes[0].row = null))).toThrow(/row must be JSON object text \(origin dc-a, tick 812, pos 5\)/);
    expect(bad((f) => delete f.at)).toThrow(/at must be a non-empty string/);
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
    expect(v.a).toBeInstanceOf(LosslessNumber);
    expect(stringifyExact(v)).toBe(text);
  });
});

describe('TRUNCATE of one partition', () => {
  const t: Change = { pos: 1, id: 1, xid: '9', txEnd: true, table: 'public.events', op: 'T', key: null, row: null, old: null, at: '2026-01-01T00:00:00.000Z', ms: 5, partition: 'public."events 2"' };
  const meta = { origin: 'dc-a', epoch: 1, tick: 1, at: t.at };
  it('travels with the partition it names, and a whole-table TRUNCATE names none', () => {
    const [f] = encodeFrames(meta, [t, { ...t, pos: 2, id: 2, partition: undefined }], 100_000);
    const d = decodeFrame(f.body).changes;
    expect(d[0].partition).toBe('public."events 2"');
    expect(d[1].partition).toBeUndefined();
  });
  it('is refused on any other change', () => {
    const [f] = encodeFrames(meta, [{ ...t, op: 'I', key: '{"id": 1}', row: '{"id": 1}' }], 100_000);
    expect(() => decodeFrame(f.body)).toThrow(/partition comes with a T change only/);
  });
});
