import { stringifyExact } from './json';

/** The wire format (DESIGN.md §4). This folder is the only place that knows it. */
export const PROTOCOL_VERSION = 2;
/** Older frames still decoded, so DCs can be upgraded one at a time. */
export const PROTOCOL_VERSIONS = [1, 2];

export type Op = 'I' | 'U' | 'D' | 'T';
export type RowImage = Record<string, unknown>;

/**
 * One captured change. Row images travel as JSON object text exactly as PostgreSQL wrote it
 * (jsonb output): nothing on the way parses their values, so every digit and character arrives
 * as written, and the applier hands them to PostgreSQL as they are.
 */
export interface Change {
  pos: number;
  id: number;
  xid: string;
  /** Last change of its source transaction: the applier may commit after it. */
  txEnd: boolean;
  /** Quoted qualified name, as format('%I.%I') writes it. */
  table: string;
  op: Op;
  /**
   * The key columns' values as JSON object text, in the order of the key, written `{"a": 1, "b": 2}`
   * (see json-scan.ts pickMembers): the same key always has the same text, so it identifies a row.
   * null for T.
   */
  key: string | null;
  /** The new row (I, U) as JSON object text; null for D and T. */
  row: string | null;
  /** U only, when the key changed: the old key, as `key` is written. */
  old: string | null;
  /** When the batch holding it was cut (an upper bound of its commit time). */
  at: string;
  /**
   * The origin's clock when the change was made (milliseconds, DESIGN.md §6). With the origin and
   * the id it is the change's version: see apply/merge.ts.
   */
  ms: number;
  /** Counter columns: the origin's share after the change, {col: {dc: value}} (value as exact text). */
  counters?: Record<string, Record<string, string>>;
  /**
   * The exact text of json/jsonb values the row image cannot carry: every json column (its text
   * as written) and a jsonb column holding the JSON null. Absent when there is none. The applier
   * writes these columns from this text instead of from the row image.
   */
  jsonText?: Record<string, string>;
  /**
   * T only: the one partition of `table` that was truncated (quoted qualified name, as `table` is
   * written). Absent when the whole table was.
   */
  partition?: string;
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
  /** When the tick was cut; every change in the frame carries it. */
  at: string;
  /**
   * The origin's applied position of each other origin (its version vector) as of the tick before
   * this batch: every change of the frame committed after all of that was applied at the origin.
   */
  seen: Record<string, number>;
  /**
   * The snapshot of this frame's tick (pg_snapshot text) and the last position of its batch: once
   * everything up to `end` is applied, every transaction of the origin visible in `snap` is
   * (read-your-writes). A frame alone cannot say more: its batch may go on in later frames.
   */
  snap?: string;
  end?: number;
  changes: Change[];
  chunk?: ChunkPart;
  /**
   * A heartbeat carries no change: the origin's stream is at this position and its vector moved
   * (an idle DC tells its peers what it has applied).
   */
  after?: number;
  /**
   * The origin database's history this frame's positions belong to (docs/operations.md, "Restore,
   * failover and lineage"): made at `ferry init`, new after `ferry lineage accept` at the origin,
   * whose positions up to `since` are its parent lineage's. Absent from frames of a Ferry before
   * lineages: such a frame is of no known lineage and is applied without a check.
   */
  lineage?: FrameLineage;
}

export interface FrameLineage {
  id: string;
  since: number;
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
  /** When the tick was cut (ISO 8601). */
  at: string;
  seen?: Record<string, number>;
  /** The tick's snapshot and the batch's last position (see Frame). */
  snap?: string;
  end?: number;
  lineage?: FrameLineage;
}

const header = (m: BatchMeta) =>
  `{"v":${PROTOCOL_VERSION},"origin":${JSON.stringify(m.origin)},"epoch":${m.epoch},"tick":${m.tick},"at":${JSON.stringify(m.at)},"seen":${JSON.stringify(m.seen ?? {})},` +
  (m.snap !== undefined && m.end !== undefined ? `"snap":${JSON.stringify(m.snap)},"end":${m.end},` : '') +
  (m.lineage ? `"lineage":{"id":${JSON.stringify(m.lineage.id)},"since":${m.lineage.since}},` : '');

/** A frame with no change: the stream is at position `after`, and the origin's vector is `meta.seen`. */
export function encodeHeartbeat(meta: BatchMeta, after: number): EncodedFrame {
  return { body: `${header(meta)}"changes":[],"after":${after}}`, origin: meta.origin, tick: meta.tick, firstPos: after, lastPos: after, dedupId: `${meta.origin}-hb-${meta.tick}` };
}
const str = (s: string | null) => (s === null ? 'null' : JSON.stringify(s));

/** One change as frame text (without `at`, which the frame carries). */
export function encodeChange(c: Change): string {
  let s = `{"pos":${c.pos},"id":${c.id},"xid":${JSON.stringify(c.xid)},"txEnd":${c.txEnd},"table":${JSON.stringify(c.table)},"op":"${c.op}","ms":${c.ms},"key":${str(c.key)},"row":${str(c.row)}`;
  if (c.old !== null) s += `,"old":${JSON.stringify(c.old)}`;
  if (c.counters) s += `,"counters":${JSON.stringify(c.counters)}`;
  if (c.jsonText) s += `,"jsonText":${stringifyExact(c.jsonText)}`;
  if (c.partition !== undefined) s += `,"partition":${JSON.stringify(c.partition)}`;
  return s + '}';
}

/** A change as one JSON document with its images as JSON objects, for people (audit, logs). */
export function changeAsJson(c: Change): string {
  const img = (t: string | null) => t ?? 'null';
  return `{"pos":${c.pos},"id":${c.id},"xid":${JSON.stringify(c.xid)},"txEnd":${c.txEnd},"table":${JSON.stringify(c.table)},"op":"${c.op}","ms":${c.ms},"key":${img(c.key)},"row":${img(c.row)},"old":${img(
    c.old,
  )},"at":${JSON.stringify(c.at)}${c.jsonText ? `,"jsonText":${stringifyExact(c.jsonText)}` : ''}${c.partition !== undefined ? `,"partition":${JSON.stringify(c.partition)}` : ''}}`;
}

/**
 * Characters an SQS message cannot carry (XML 1.0 allows neither U+FFFE nor U+FFFF; JSON.stringify
 * already escapes control characters and lone surrogates). Inside a frame they can only stand in
 * JSON strings, where a \u escape means the same: escaped for every transport alike.
 */
const NOT_XML = /[\uFFFE\uFFFF]/g;
const escapeNotXml = (s: string) => s.replace(NOT_XML, (c) => `\\u${c.charCodeAt(0).toString(16)}`);

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
    const text = escapeNotXml(encodeChange(c));
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
    size += extra;
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
