import { StreamError } from '../common/errors';
import { decodeChange } from './decode';
import type { Change, Frame } from './envelope';
import { parseExact } from './json';

/** More pieces than any change Ferry sends has (a 1 GiB change in 256 KiB frames is 4 096). */
const MAX_PIECES = 65_536;

/**
 * Puts chunked changes back together. What the wire says is never trusted for allocation: pieces
 * are kept as they come, and a count beyond MAX_PIECES is refused.
 */
export class Reassembler {
  private pending = new Map<number, { count: number; parts: Map<number, Buffer> }>();

  /** Returns the whole change when its last piece arrives, else null. Duplicate pieces are fine. */
  add(frame: Frame): Change | null {
    const k = frame.chunk;
    if (!k) throw new Error('not a chunk frame');
    let p = this.pending.get(k.pos);
    if (!p) {
      if (k.count > MAX_PIECES) throw new StreamError(`a chunked change of ${k.count} pieces is more than Ferry ever sends (${MAX_PIECES})`, { origin: frame.origin, tick: frame.tick, pos: k.pos });
      p = { count: k.count, parts: new Map() };
      this.pending.set(k.pos, p);
    }
    if (p.count !== k.count) throw new StreamError(`chunk count changed from ${p.count} to ${k.count}`, { origin: frame.origin, tick: frame.tick, pos: k.pos });
    if (!p.parts.has(k.index)) p.parts.set(k.index, Buffer.from(k.data, 'base64'));
    if (p.parts.size < p.count) return null;
    this.pending.delete(k.pos);
    const text = Buffer.concat(Array.from({ length: p.count }, (_, i) => p!.parts.get(i)!)).toString('utf8');
    let raw: unknown;
    try {
      raw = frame.v === 1 ? parseExact(text) : JSON.parse(text);
    } catch (e) {
      throw new StreamError(`reassembled change is not JSON (${(e as Error).message})`, { origin: frame.origin, tick: frame.tick, pos: k.pos });
    }
    const change = decodeChange(raw, { origin: frame.origin, tick: frame.tick }, frame.at, frame.v === 1, 0);
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
