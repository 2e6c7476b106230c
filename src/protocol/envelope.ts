import { StreamError } from '../common/errors';
import { parseExact, stringifyExact } from './json';

/** The wire format (DESIGN.md §4). This folder is the only place that knows it. */
export const PROTOCOL_VERSION = 1;

export type Op = 'I' | 'U' | 'D' | 'T';
export type RowImage = Record<string, unknown>;

export interface Change {
  pos: number;
  id: number;
  xid: string;
  /** Last change of its source transaction: the applier may commit after it. */
  txEnd: boolean;
  /** Quoted qualified name, as format('%I.%I') writes it. */
  table: string;
  op: Op;
  key: RowImage | null;
  row: RowImage | null;
  old: RowImage | null;
  /** When the batch holding it was cut (an upper bound of its commit time). */
  at: string;
  /**
   * The exact text of json/jsonb values the row image cannot carry: every json column (its text
   * as written) and a jsonb column holding the JSON null. Absent when there is none. The applier
   * writes these columns from this text instead of from the row image.
   */
  jsonText?: Record<string, string>;
}

/** One piece of a change too large for a single frame. */
export interface ChunkPart {
  pos: number;
  index: number;
  count: number;
  /** base64 of this slice of the change's UTF-8 JSON. */
  data: string;
}

export interface Frame {
  v: number;
  origin: string;
  epoch: number;
  tick: number;
  changes: Change[];
  chunk?: ChunkPart;
}

/** A frame ready for a transport: its text plus what the transport needs without parsing it. */
export interface EncodedFrame {
  body: string;
  origin: string;
  tick: number;
  firstPos: number;
  lastPos: number;
  /**
   * Names the frame's content: origin + first and last position (+ chunk index and count). A
   * re-publish cut differently (another maxFrameBytes) must not share an id with a different frame,
   * or SQS would drop it as a duplicate and leave a gap.
   */
  dedupId: string;
}

export interface BatchMeta {
  origin: string;
  epoch: number;
  tick: number;
}

const header = (m: BatchMeta) => `{"v":${PROTOCOL_VERSION},"origin":${JSON.stringify(m.origin)},"epoch":${m.epoch},"tick":${m.tick},`;

/**
 * Packs consecutive changes into frames whose UTF-8 size stays within maxBytes. A change that does
 * not fit in a frame of its own is split into ordered chunks (base64 slices), never dropped.
 */
export function encodeFrames(meta: BatchMeta, changes: Iterable<Change>, maxBytes: number): EncodedFrame[] {
  const out: EncodedFrame[] = [];
  const head = header(meta);
  const emptyLen = Buffer.byteLength(head + '"changes":[]}');
  let parts: string[] = [];
  let size = emptyLen;
  let first = 0;
  let last = 0;
  const flush = () => {
    if (!parts.length) return;
    out.push({ body: `${head}"changes":[${parts.join(',')}]}`, origin: meta.origin, tick: meta.tick, firstPos: first, lastPos: last, dedupId: `${meta.origin}-${first}-${last}` });
    parts = [];
    size = emptyLen;
  };
  for (const c of changes) {
    const text = stringifyExact(c);
    const len = Buffer.byteLength(text);
    const extra = parts.length ? len + 1 : len;
    if (emptyLen + len > maxBytes) {
      flush();
      out.push(...chunkChange(meta, head, c.pos, text, maxBytes));
      continue;
    }
    if (size + extra > maxBytes) flush();
    if (!parts.length) first = c.pos;
    parts.push(text);
    size += parts.length > 1 ? len + 1 : len;
    last = c.pos;
  }
  flush();
  return out;
}

function chunkChange(meta: BatchMeta, head: string, pos: number, text: string, maxBytes: number): EncodedFrame[] {
  const bytes = Buffer.from(text, 'utf8');
  const overhead = Buffer.byteLength(`${head}"changes":[],"chunk":{"pos":${pos},"index":999999,"count":999999,"data":""}}`);
  const room = Math.floor((maxBytes - overhead) / 4) * 3; // base64: 4 characters per 3 bytes
  if (room <= 0) throw new RangeError(`maxFrameBytes ${maxBytes} is too small to hold even a chunk header`);
  const count = Math.ceil(bytes.length / room);
  const frames: EncodedFrame[] = [];
  for (let index = 0; index < count; index++) {
    const data = bytes.subarray(index * room, (index + 1) * room).toString('base64');
    frames.push({
      body: `${head}"changes":[],"chunk":{"pos":${pos},"index":${index},"count":${count},"data":"${data}"}}`,
      origin: meta.origin,
      tick: meta.tick,
      firstPos: pos,
      lastPos: pos,
      dedupId: `${meta.origin}-${pos}-c${index}of${count}`,
    });
  }
  return frames;
}

// ---- decoding: everything is checked; errors name origin, tick and position --------------------

class Check {
  constructor(private readonly where: { origin: string; tick?: number; pos?: number }) {}
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
  obj(v: unknown, name: string, nullable: boolean): RowImage | null {
    if (v === null && nullable) return null;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(`${name} must be an object${nullable ? ' or null' : ''}`);
    return v as RowImage;
  }
}

const OPS = new Set(['I', 'U', 'D', 'T']);

export function decodeFrame(body: string, hint: { origin?: string } = {}): Frame {
  let raw: unknown;
  try {
    raw = parseExact(body);
  } catch (e) {
    throw new StreamError(`malformed frame: not JSON (${(e as Error).message})`, { origin: hint.origin ?? '?' });
  }
  const f = raw as Record<string, unknown>;
  if (typeof f !== 'object' || f === null || Array.isArray(f)) throw new StreamError('malformed frame: not a JSON object', { origin: hint.origin ?? '?' });
  const origin = typeof f.origin === 'string' && f.origin ? f.origin : hint.origin ?? '?';
  const top = new Check({ origin, tick: typeof f.tick === 'number' ? f.tick : undefined });
  if (f.v !== PROTOCOL_VERSION) top.fail(`protocol version ${JSON.stringify(f.v)} is not ${PROTOCOL_VERSION} (is this Ferry older than the sender?)`);
  top.str(f.origin, 'origin');
  const epoch = top.int(f.epoch, 'epoch');
  const tick = top.int(f.tick, 'tick', 1);
  if (!Array.isArray(f.changes)) top.fail('changes must be an array');
  const changes: Change[] = (f.changes as unknown[]).map((c, i) => decodeChange(c, origin, tick, i));
  for (let i = 1; i < changes.length; i++) {
    if (changes[i].pos !== changes[i - 1].pos + 1) new Check({ origin, tick, pos: changes[i].pos }).fail('positions inside a frame must be consecutive');
  }
  const frame: Frame = { v: PROTOCOL_VERSION, origin, epoch, tick, changes };
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
    top.fail('a frame must carry changes or a chunk');
  }
  return frame;
}

function decodeChange(raw: unknown, origin: string, tick: number, i: number): Change {
  const c = raw as Record<string, unknown>;
  const pos0 = c && typeof c === 'object' && typeof c.pos === 'number' ? c.pos : undefined;
  const ck = new Check({ origin, tick, pos: pos0 });
  if (typeof c !== 'object' || c === null || Array.isArray(c)) ck.fail(`change #${i} is not an object`);
  const pos = ck.int(c.pos, 'pos', 1);
  const op = c.op as Op;
  if (!OPS.has(op as string)) ck.fail(`op must be one of I, U, D, T, got ${JSON.stringify(c.op)}`);
  const change: Change = {
    pos,
    id: ck.int(c.id, 'id', 1),
    xid: ck.str(c.xid, 'xid'),
    txEnd: c.txEnd === true,
    table: ck.str(c.table, 'table'),
    op,
    key: ck.obj(c.key, 'key', op === 'T'),
    row: ck.obj(c.row, 'row', op === 'T' || op === 'D'),
    old: ck.obj(c.old ?? null, 'old', true),
    at: typeof c.at === 'string' ? c.at : ck.fail('at must be a timestamp string'),
  };
  if (typeof c.txEnd !== 'boolean') ck.fail('txEnd must be true or false');
  if (c.jsonText !== undefined && c.jsonText !== null) {
    const jt = ck.obj(c.jsonText, 'jsonText', false)!;
    for (const [k, v] of Object.entries(jt)) if (typeof v !== 'string') ck.fail(`jsonText.${k} must be a string`);
    if (!change.row) ck.fail('jsonText comes with a row image only');
    change.jsonText = jt as Record<string, string>;
  }
  return change;
}

/** Puts chunked changes back together; holds the pieces of one change at a time per origin. */
export class Reassembler {
  private pending = new Map<number, { count: number; parts: (Buffer | undefined)[]; have: number }>();

  /** Returns the whole change when its last piece arrives, else null. Duplicate pieces are fine. */
  add(frame: Frame): Change | null {
    const k = frame.chunk;
    if (!k) throw new Error('not a chunk frame');
    let p = this.pending.get(k.pos);
    if (!p) {
      p = { count: k.count, parts: new Array(k.count), have: 0 };
      this.pending.set(k.pos, p);
    }
    if (p.count !== k.count) throw new StreamError(`chunk count changed from ${p.count} to ${k.count}`, { origin: frame.origin, tick: frame.tick, pos: k.pos });
    if (!p.parts[k.index]) {
      p.parts[k.index] = Buffer.from(k.data, 'base64');
      p.have++;
    }
    if (p.have < p.count) return null;
    this.pending.delete(k.pos);
    const text = Buffer.concat(p.parts as Buffer[]).toString('utf8');
    let raw: unknown;
    try {
      raw = parseExact(text);
    } catch (e) {
      throw new StreamError(`reassembled change is not JSON (${(e as Error).message})`, { origin: frame.origin, tick: frame.tick, pos: k.pos });
    }
    const change = decodeChange(raw, frame.origin, frame.tick, 0);
    if (change.pos !== k.pos) throw new StreamError(`reassembled change has pos ${change.pos}`, { origin: frame.origin, tick: frame.tick, pos: k.pos });
    return change;
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  forgetUpTo(pos: number): void {
    for (const p of this.pending.keys()) if (p <= pos) this.pending.delete(p);
  }
}
