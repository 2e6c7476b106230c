import { StreamError } from '../common/errors';
import { decodeChange } from './decode';
import type { Change, Frame } from './envelope';
import { parseExact } from './json';

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
