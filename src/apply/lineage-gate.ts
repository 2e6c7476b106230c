import { StreamError } from '../common/errors';
import type { Frame, FrameLineage } from '../protocol/envelope';

/** What this DC has recorded of an origin's lineage (ferry.applied). */
export interface KnownLineage {
  /** null until the first frame that carries one (trust on first use). */
  id: string | null;
  since: number;
  /** Lineages `ferry lineage accept --origin` replaced: their frames count only up to `since`. */
  retired: string[];
}

/**
 * A frame of a lineage this DC has not accepted for its origin: the origin's database went back in
 * time or moved, and its positions may name other changes than the ones applied here under the same
 * numbers. The stream stops until an operator accepts it (`ferry lineage accept --origin`).
 */
export class LineageRefused extends StreamError {
  constructor(
    readonly offered: FrameLineage,
    known: string,
    where: { origin: string; tick?: number },
  ) {
    super(
      `frames of ${where.origin} carry lineage ${offered.id} (forked at position ${offered.since}), but this DC applies lineage ${known} of ${where.origin}: ` +
        `${where.origin}'s database was restored, promoted from a standby or moved, and its positions after ${offered.since} may be other changes than the ones applied here. ` +
        `Once ${where.origin} is known to be right, run \`ferry lineage accept --origin ${where.origin} --config FILE\` here (docs/operations.md, "Restore, failover and lineage")`,
      where,
    );
  }
}

/**
 * Decides, per frame, whether its changes belong to the lineage this DC applies of the origin (no
 * I/O). A frame without a lineage (from a Ferry before lineages) is taken as it is. The first
 * lineage seen is adopted and reported once (`adopted`) for the session to record.
 */
export class LineageGate {
  private adoptedNow: FrameLineage | null = null;

  constructor(private known: KnownLineage) {}

  /** The lineage adopted on first use and not yet recorded (then forgotten here). */
  takeAdopted(): FrameLineage | null {
    const a = this.adoptedNow;
    this.adoptedNow = null;
    return a;
  }

  /**
   * The frame as it may be taken: itself, or, from a replaced lineage, only what it carries up to
   * the fork (null: nothing). Throws LineageRefused for a lineage not accepted here.
   */
  admit(frame: Frame): Frame | null {
    const l = frame.lineage;
    if (!l || l.id === this.known.id) return frame;
    if (this.known.id === null) {
      this.known = { ...this.known, id: l.id, since: l.since };
      this.adoptedNow = l;
      return frame;
    }
    if (!this.known.retired.includes(l.id)) throw new LineageRefused(l, this.known.id, { origin: frame.origin, tick: frame.tick });
    // a replaced lineage's positions after the fork are not this lineage's: dropped (the rest is the same changes)
    const since = this.known.since;
    if (frame.chunk) return frame.chunk.pos <= since ? frame : null;
    if (frame.after !== undefined) return null;
    const changes = frame.changes.filter((c) => c.pos <= since);
    return changes.length ? { ...frame, changes } : null;
  }
}
