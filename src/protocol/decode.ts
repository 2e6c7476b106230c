import { StreamError } from '../common/errors';
import { Change, Frame, Op, PROTOCOL_VERSIONS } from './envelope';
import { pickMembers } from './json-scan';
import { parseExact, stringifyExact } from './json';

/** Decoding: everything is checked; errors name origin, tick and position (DESIGN.md §4). */

type Where = { origin: string; tick?: number; pos?: number };

class Check {
  constructor(private readonly where: Where) {}
  fail(msg: string): never {
    throw new StreamError(`malformed frame: ${msg}`, this.where);
  }
  int(v: unknown, name: string, min = 0): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(`${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`);
    return v;
  }
  str(v: unknown, name: string): string {
    if (typeof v !== 'string' || !v) this.fail(`${name} must be a non-empty string`);
    return v;
  }
  text(v: unknown, name: string, nullable: boolean): string | null {
    if (v === null && nullable) return null;
    if (typeof v !== 'string' || !v.startsWith('{')) this.fail(`${name} must be JSON object text${nullable ? ' or null' : ''}`);
    return v;
  }
  obj(v: unknown, name: string, nullable: boolean): Record<string, unknown> | null {
    if (v === null && nullable) return null;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(`${name} must be an object${nullable ? ' or null' : ''}`);
    return v as Record<string, unknown>;
  }
}

const OPS = new Set(['I', 'U', 'D', 'T']);
/** pg_snapshot's text form. */
const SNAPSHOT = /^\d+:\d+:(\d+(,\d+)*)?$/;

/** Version 2 frames are plain JSON (row images are strings); version 1 carried them as objects. */
function parse(body: string, v1: boolean): unknown {
  return v1 ? parseExact(body) : JSON.parse(body);
}

export function decodeFrame(body: string, hint: { origin?: string } = {}): Frame {
  const origin0 = hint.origin ?? '?';
  let raw: unknown;
  try {
    // a version 1 frame says so in its first bytes ({"v":1,…), written by Ferry itself
    raw = parse(body, body.startsWith('{"v":1,'));
  } catch (e) {
    throw new StreamError(`malformed frame: not JSON (${(e as Error).message})`, { origin: origin0 });
  }
  const f = raw as Record<string, unknown>;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new StreamError('malformed frame: not a JSON object', { origin: origin0 });
  const origin = typeof f.origin === 'string' && f.origin ? f.origin : origin0;
  const top = new Check({ origin, tick: typeof f.tick === 'number' ? f.tick : undefined });
  if (!PROTOCOL_VERSIONS.includes(f.v as number)) {
    top.fail(`protocol version ${JSON.stringify(f.v)} is not one this Ferry reads (${PROTOCOL_VERSIONS.join(', ')}); is this Ferry older than the sender?`);
  }
  const v1 = f.v === 1;
  top.str(f.origin, 'origin');
  const epoch = top.int(f.epoch, 'epoch');
  const tick = top.int(f.tick, 'tick', 1);
  const at = v1 ? '' : top.str(f.at, 'at');
  if (!Array.isArray(f.changes)) top.fail('changes must be an array');
  const seen: Record<string, number> = {};
  if (!v1) {
    const sv = top.obj(f.seen, 'seen', false)!;
    for (const [k, v] of Object.entries(sv)) seen[k] = top.int(v, `seen.${k}`);
  }
  const changes: Change[] = (f.changes as unknown[]).map((c, i) => decodeChange(c, { origin, tick }, at, v1, i));
  for (let i = 1; i < changes.length; i++) {
    if (changes[i].pos !== changes[i - 1].pos + 1) new Check({ origin, tick, pos: changes[i].pos }).fail('positions inside a frame must be consecutive');
  }
  const frame: Frame = { v: f.v as number, origin, epoch, tick, at, seen, changes };
  if (f.snap !== undefined || f.end !== undefined) {
    if (typeof f.snap !== 'string' || !SNAPSHOT.test(f.snap)) top.fail(`snap must be a snapshot (xmin:xmax:xip,…), got ${JSON.stringify(f.snap)}`);
    frame.snap = f.snap as string;
    frame.end = top.int(f.end, 'end');
  }
  if (f.lineage !== undefined) {
    const l = top.obj(f.lineage, 'lineage', false)!;
    frame.lineage = { id: top.str(l.id, 'lineage.id'), since: top.int(l.since, 'lineage.since') };
  }
  if (f.chunk !== undefined) {
    const k = top.obj(f.chunk, 'chunk', false) as Record<string, unknown>;
    const pos = top.int(k.pos, 'chunk.pos', 1);
    const ck = new Check({ origin, tick, pos });
    const count = ck.int(k.count, 'chunk.count', 1);
    const index = ck.int(k.index, 'chunk.index');
    if (index >= count) ck.fail(`chunk.index ${index} is not below chunk.count ${count}`);
    if (typeof k.data !== 'string') ck.fail('chunk.data must be a base64 string');
    if (changes.length) ck.fail('a chunk frame carries no whole changes');
    frame.chunk = { pos, index, count, data: k.data as string };
  } else if (!changes.length) {
    if (f.after === undefined || v1) top.fail('a frame must carry changes, a chunk, or be a heartbeat (after)');
    frame.after = top.int(f.after, 'after');
  }
  return frame;
}

/** A change of a frame (or a reassembled chunk): `at` comes from the frame in version 2. */
export function decodeChange(raw: unknown, where: { origin: string; tick: number }, at: string, v1: boolean, i: number): Change {
  const c = raw as Record<string, unknown>;
  const pos0 = c && typeof c === 'object' && typeof c.pos === 'number' ? c.pos : undefined;
  const ck = new Check({ ...where, pos: pos0 });
  if (typeof c !== 'object' || c === null || Array.isArray(c)) ck.fail(`change #${i} is not an object`);
  const pos = ck.int(c.pos, 'pos', 1);
  const op = c.op as Op;
  if (!OPS.has(op as string)) ck.fail(`op must be one of I, U, D, T, got ${JSON.stringify(c.op)}`);
  if (typeof c.txEnd !== 'boolean') ck.fail('txEnd must be true or false');
  const id = ck.int(c.id, 'id', 1);
  const xid = ck.str(c.xid, 'xid');
  const table = ck.str(c.table, 'table');
  let change: Change;
  if (v1) {
    const key = ck.obj(c.key, 'key', op === 'T');
    const row = ck.obj(c.row, 'row', op === 'T' || op === 'D');
    const old = ck.obj(c.old ?? null, 'old', true);
    change = {
      pos,
      id,
      xid,
      txEnd: c.txEnd as boolean,
      table,
      op,
      key: key && pickMembers(stringifyExact(key), Object.keys(key)),
      row: row && stringifyExact(row),
      old: old && pickMembers(stringifyExact(old), Object.keys(old)),
      at: typeof c.at === 'string' ? c.at : ck.fail('at must be a timestamp string'),
      // version 1 had no clock: its changes are older than any versioned change
      ms: 0,
    };
  } else {
    ck.text(c.key, 'key', op === 'T');
    ck.text(c.row, 'row', op === 'T' || op === 'D');
    ck.text((c.old ??= null), 'old', true);
    ck.int(c.ms, 'ms');
    if (c.counters !== undefined) {
      const cs = ck.obj(c.counters, 'counters', false)!;
      for (const [col, shares] of Object.entries(cs)) {
        for (const [dc, v] of Object.entries(ck.obj(shares, `counters.${col}`, false)!)) {
          if (typeof v !== 'string' || !/^-?\d+(\.\d+)?$/.test(v)) ck.fail(`counters.${col}.${dc} must be a number as text`);
        }
      }
    }
    // the parsed object itself becomes the change: nothing is copied
    c.at = at;
    change = c as unknown as Change;
  }
  if (c.partition !== undefined) {
    if (op !== 'T' || typeof c.partition !== 'string') ck.fail('partition comes with a T change only, as a table name');
    change.partition = c.partition as string;
  }
  if (c.jsonText !== undefined && c.jsonText !== null) {
    const jt = ck.obj(c.jsonText, 'jsonText', false)!;
    for (const [k, v] of Object.entries(jt)) if (typeof v !== 'string') ck.fail(`jsonText.${k} must be a string`);
    if (!change.row) ck.fail('jsonText comes with a row image only');
    change.jsonText = jt as Record<string, string>;
  }
  return change;
}
