import type { Change } from '../protocol/envelope';

/**
 * Holds changes that arrived ahead of the next position to apply. Positions at or below the
 * applied one are dropped (duplicates); a position seen twice is kept once. Bounded: full() tells
 * the caller to stop taking more (backpressure) instead of growing without limit.
 */
export class ReorderBuffer {
  private held = new Map<number, Change>();
  /** The tick of the frame each held change came in (for naming where a gap is). */
  private ticks = new Map<number, number>();
  private next: number;
  private highest = 0;

  constructor(applied: number, private readonly limit: number) {
    this.next = applied + 1;
  }

  /** Returns the number of changes accepted (not duplicates, not already applied). */
  add(changes: Change[], tick?: number): number {
    let n = 0;
    for (const c of changes) {
      if (c.pos > this.highest) this.highest = c.pos;
      if (c.pos < this.next || this.held.has(c.pos)) continue;
      this.held.set(c.pos, c);
      if (tick !== undefined) this.ticks.set(c.pos, tick);
      n++;
    }
    return n;
  }

  /** Takes up to max changes that follow the last taken position without a gap. */
  take(max: number): Change[] {
    const out: Change[] = [];
    while (out.length < max) {
      const c = this.held.get(this.next);
      if (!c) break;
      this.held.delete(this.next);
      this.ticks.delete(this.next);
      out.push(c);
      this.next++;
    }
    return out;
  }

  /** Puts back what take() returned but could not be applied (rolled back), to be taken again. */
  restore(changes: Change[], applied: number): void {
    this.next = applied + 1;
    for (const c of changes) if (c.pos > applied) this.held.set(c.pos, c);
  }

  get nextPos(): number {
    return this.next;
  }
  get size(): number {
    return this.held.size;
  }
  get highestSeen(): number {
    return this.highest;
  }
  full(): boolean {
    return this.held.size >= this.limit;
  }
  /** Something is held but the next position is missing: a gap. */
  waitingForGap(): boolean {
    return this.held.size > 0 && !this.held.has(this.next);
  }
  /** The first held change after the gap (for the error message). */
  firstHeld(): Change | undefined {
    let min: Change | undefined;
    for (const c of this.held.values()) if (!min || c.pos < min.pos) min = c;
    return min;
  }
  /** The tick the first held change after the gap came in, when known. */
  tickOf(pos: number): number | undefined {
    return this.ticks.get(pos);
  }
  clear(): void {
    this.held.clear();
    this.ticks.clear();
  }
}
