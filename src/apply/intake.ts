import { StreamError } from '../common/errors';
import { decodeFrame } from '../protocol/decode';
import type { Change, Frame } from '../protocol/envelope';
import { Reassembler } from '../protocol/reassembler';
import type { Delivery } from '../transport/types';
import { KnownLineage, LineageGate } from './lineage-gate';
import { ReorderBuffer } from './reorder-buffer';

/** A delivery held until every change in it is applied; then it may be acknowledged. */
interface Held {
  delivery: Delivery;
  maxPos: number;
  tick: number;
  /** The origin's vector when it cut the batch (v2 frames). */
  seen?: Record<string, number>;
  /** The tick's snapshot, true here once `end` (the batch's last position) is applied. */
  snap?: string;
  end?: number;
}

/** A snapshot of the origin whose every transaction is applied here, and its tick. */
export interface AppliedSnapshot {
  snap: string;
  tick: number;
}

/** What a commit lets go of: the deliveries now wholly applied, and the transport position to store. */
export interface Released {
  ack: Delivery[];
  /** The offset of the last delivery let go (Kafka), else the one stored before. */
  offset: string | null;
  /** The tick of the last delivery let go, when any was. */
  tick: number | null;
  /** The origin's vector as of the last delivery let go, when any was. */
  seen: Record<string, number> | null;
  /** The newest tick snapshot whose whole batch is let go: its transactions are all applied. */
  snap: AppliedSnapshot | null;
}

/** Why nothing can be applied although something was received. */
export type Waiting = 'gap' | 'rest-of-transaction' | 'chunks' | null;

/**
 * The intake of one origin's stream, with no I/O (Sequin's habit: a pure state kept apart from
 * the process that does I/O): decodes and reassembles frames, reorders changes by position,
 * drops duplicates, and holds each delivery until every change in it is applied. It answers
 * "what can be applied next" and "which deliveries are wholly applied up to pos, and which
 * transport offset to store".
 */
export class IntakeLedger {
  private buffer: ReorderBuffer;
  private reassembler = new Reassembler();
  private held: Held[] = [];
  private appliedPos: number;
  private offset: string | null;
  private seenPos: number;
  private readonly lineage: LineageGate;

  constructor(
    private readonly origin: string,
    start: { applied: number; offset: string | null; seen: number },
    private readonly bufferLimit: number,
    /**
     * Keep each held delivery's body (only a transport whose waiting frames may go to ferry.inbox
     * needs them, see spill()); otherwise a delivery is held by its offset alone once decoded.
     */
    private readonly keepBodies = true,
    lineage: KnownLineage = { id: null, since: 0, retired: [] },
  ) {
    this.lineage = new LineageGate(lineage);
    this.appliedPos = start.applied;
    this.offset = start.offset;
    this.seenPos = start.seen;
    this.buffer = new ReorderBuffer(start.applied, bufferLimit);
  }

  get applied(): number {
    return this.appliedPos;
  }
  /** The highest position received (for lag). */
  get seen(): number {
    return this.seenPos;
  }
  get nextPos(): number {
    return this.buffer.nextPos;
  }
  /** Changes held, ready or not. */
  get size(): number {
    return this.buffer.size;
  }
  /** Too much is held out of order: stop taking deliveries until something is applied. */
  full(): boolean {
    return this.buffer.full();
  }

  /**
   * Decodes a delivery and holds it; returns the frame. A malformed one, or one of a lineage not accepted here, throws a
   * StreamError and changes nothing.
   */
  receive(d: Delivery): Frame {
    const decoded = this.decode(d.body);
    const frame = this.lineage.admit(decoded);
    const delivery = this.keepBodies ? d : { ...d, body: '' };
    if (frame !== decoded) {
      // of a replaced lineage: what it carries after the fork is not this lineage's (nor its vector,
      // nor its snapshot); held only to be let go once the fork is applied
      const maxPos = frame ? this.absorb(frame) : Math.min(this.appliedPos, lastPos(decoded));
      this.held.push({ delivery, maxPos, tick: decoded.tick });
      return decoded;
    }
    const maxPos = this.absorb(frame);
    this.seenPos = Math.max(this.seenPos, maxPos);
    this.held.push({ delivery, maxPos, tick: frame.tick, seen: frame.v === 1 ? undefined : frame.seen, snap: frame.snap, end: frame.end });
    return decoded;
  }

  /** A frame kept in the inbox by an earlier session: its delivery was acknowledged long ago. */
  receiveStored(body: string): void {
    const decoded = this.decode(body);
    const frame = this.lineage.admit(decoded);
    if (!frame) return;
    const maxPos = this.absorb(frame);
    if (frame === decoded) this.seenPos = Math.max(this.seenPos, maxPos);
  }

  /** The origin's lineage this ledger adopted on first use, once, for the session to record. */
  takeAdoptedLineage(): { id: string; since: number } | null {
    return this.lineage.takeAdopted();
  }

  /** Up to `max` changes that follow the last taken position without a gap. */
  take(max: number): Change[] {
    return this.buffer.take(max);
  }

  /** Puts back changes taken but not applied (rolled back), to be taken again. */
  putBack(changes: Change[]): void {
    this.buffer.restore(changes, this.appliedPos);
  }

  /** What committing everything up to `pos` would let go of (nothing changes until applyCommitted). */
  releasable(pos: number): Released {
    let n = 0;
    while (n < this.held.length && this.held[n].maxPos <= pos) n++;
    const last = n ? this.held[n - 1] : undefined;
    let seen: Record<string, number> | null = null;
    for (let i = n - 1; i >= 0 && !seen; i--) seen = this.held[i].seen ?? null;
    return {
      ack: this.held.slice(0, n).map((h) => h.delivery),
      offset: last?.delivery.offset !== undefined ? last.delivery.offset : this.offset,
      tick: last ? last.tick : null,
      seen,
      snap: completeSnapshot(this.held.slice(0, n)),
    };
  }

  /** Everything up to `pos` is committed: lets go of the deliveries wholly applied, in order. */
  applyCommitted(pos: number): Released {
    const r = this.releasable(pos);
    this.held.splice(0, r.ack.length);
    this.appliedPos = pos;
    this.offset = r.offset;
    this.reassembler.forgetUpTo(pos);
    return r;
  }

  /**
   * Deliveries that only repeat what is applied (a re-publish), or heartbeats at or below it: they
   * can be let go at once, with the newest vector among them.
   */
  takeDuplicates(): { ack: Delivery[]; seen: Record<string, number> | null; snap: AppliedSnapshot | null } {
    let n = 0;
    while (n < this.held.length && this.held[n].maxPos <= this.appliedPos) n++;
    const done = this.held.splice(0, n);
    let seen: Record<string, number> | null = null;
    for (let i = done.length - 1; i >= 0 && !seen; i--) seen = done[i].seen ?? null;
    return { ack: done.map((h) => h.delivery), seen, snap: completeSnapshot(done) };
  }

  /**
   * Why the stream cannot go on: later positions are held but the next is missing, a source
   * transaction was begun (txOpen) and the rest of it has not come, or a change is partly
   * reassembled. null when nothing waits.
   */
  waiting(txOpen: boolean): Waiting {
    if (this.buffer.waitingForGap()) return 'gap';
    if (txOpen && this.buffer.size === 0) return 'rest-of-transaction';
    if (this.reassembler.pendingCount > 0) return 'chunks';
    return null;
  }

  /**
   * Hands over the held deliveries that carry anything not yet applied, to be kept in the inbox,
   * and every held delivery, to be acknowledged; they are then forgotten here (their changes stay
   * held). null when no held delivery carries anything unapplied.
   */
  spill(): { keep: { maxPos: number; body: string }[]; ack: Delivery[] } | null {
    const keep = this.held.filter((h) => h.maxPos > this.appliedPos).map((h) => ({ maxPos: h.maxPos, body: h.delivery.body }));
    if (!keep.length) return null;
    const ack = this.held.map((h) => h.delivery);
    this.held = [];
    return { keep, ack };
  }

  /** Where a gap is: the next position, the first change held after it and that change's tick. */
  gap(): { nextPos: number; firstHeld?: Change; tickOfFirstHeld?: number } {
    const firstHeld = this.buffer.firstHeld();
    return { nextPos: this.buffer.nextPos, firstHeld, tickOfFirstHeld: firstHeld ? this.buffer.tickOf(firstHeld.pos) : undefined };
  }

  /** Forgets everything received (to read again from the applied position). */
  reset(): void {
    this.buffer = new ReorderBuffer(this.appliedPos, this.bufferLimit);
    this.reassembler = new Reassembler();
    this.held = [];
  }

  private decode(body: string): Frame {
    const frame = decodeFrame(body, { origin: this.origin });
    if (frame.origin !== this.origin) throw new StreamError(`frame of origin ${frame.origin} arrived on the stream of ${this.origin}`, { origin: this.origin, tick: frame.tick });
    return frame;
  }

  /** Takes a frame's changes (or chunk); returns the highest position it carries. */
  private absorb(frame: Frame): number {
    if (frame.chunk) {
      if (frame.chunk.pos > this.appliedPos) {
        // a chunk that does not fit its siblings is as malformed as bad JSON: it throws
        const c = this.reassembler.add(frame);
        if (c) this.buffer.add([c], frame.tick);
      }
      return frame.chunk.pos;
    }
    if (frame.after !== undefined) return frame.after; // a heartbeat: no change, a vector
    this.buffer.add(frame.changes, frame.tick);
    return frame.changes[frame.changes.length - 1].pos;
  }
}

function lastPos(f: Frame): number {
  if (f.chunk) return f.chunk.pos;
  if (f.after !== undefined) return f.after;
  return f.changes[f.changes.length - 1].pos;
}

/**
 * The newest tick snapshot among deliveries wholly applied whose batch they complete (the frame's
 * last position is its batch's last): a frame's own tick's snapshot is only true once all of its
 * batch is applied, and the frames before the last one cannot say it.
 */
function completeSnapshot(done: Held[]): AppliedSnapshot | null {
  for (let i = done.length - 1; i >= 0; i--) {
    const h = done[i];
    if (h.snap !== undefined && h.end !== undefined && h.maxPos >= h.end) return { snap: h.snap, tick: h.tick };
  }
  return null;
}
