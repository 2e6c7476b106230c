import { Transform, TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ClientBase } from 'pg';
import { from as copyFrom, to as copyTo } from 'pg-copy-streams';
import { quoteIdent } from '../common/db';
import type { SourceTable } from './catalog';

/**
 * Streams one table from the source's snapshot into the destination's open transaction with COPY:
 * the binary format when every column type is built in (no text to print and parse again), else
 * text. Nothing is held in memory beyond the stream's buffers. Returns the rows copied.
 */
export async function copyTable(src: ClientBase, dst: ClientBase, t: SourceTable, onRows: (n: number) => void): Promise<number> {
  const cols = t.columns.map((c) => quoteIdent(c.name)).join(', ');
  const format = t.binary ? '(format binary)' : '';
  const out = src.query(copyTo(`copy ${t.sql} (${cols}) to stdout ${format}`));
  const into = dst.query(copyFrom(`copy ${t.sql} (${cols}) from stdin ${format}`));
  const counter = new RowCounter(t.binary, onRows);
  await pipeline(out, counter, into);
  return counter.rows;
}

/** Passes a COPY stream through unchanged, counting its rows as they go by (for the progress bar). */
export class RowCounter extends Transform {
  private readonly scan: BinaryRows | null;
  rows = 0;

  constructor(
    binary: boolean,
    private readonly onRows: (n: number) => void,
  ) {
    super();
    this.scan = binary ? new BinaryRows() : null;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let n = 0;
    if (this.scan) n = this.scan.feed(chunk);
    // text format: one line per row, a newline inside a value is written as \n
    else for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) n++;
    if (n) {
      this.rows += n;
      this.onRows(n);
    }
    done(null, chunk);
  }
}

const HEADER = 19; // signature (11), flags (4), header extension length (4)

/**
 * Counts the tuples of a binary COPY stream across chunk boundaries: a tuple is a 16-bit field
 * count (-1 ends the stream), then per field a 32-bit length (-1 for NULL) and that many bytes.
 */
export class BinaryRows {
  private phase: 'header' | 'count' | 'len' | 'done' = 'header';
  private part = Buffer.alloc(4 + HEADER);
  private have = 0;
  private skip = 0;
  private fields = 0;

  /** Feeds the next bytes; returns how many tuples began in them. */
  feed(b: Buffer): number {
    let rows = 0;
    let i = 0;
    while (i < b.length && this.phase !== 'done') {
      if (this.skip > 0) {
        const n = Math.min(this.skip, b.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      const size = this.phase === 'header' ? HEADER : this.phase === 'count' ? 2 : 4;
      const n = Math.min(size - this.have, b.length - i);
      b.copy(this.part, this.have, i, i + n);
      this.have += n;
      i += n;
      if (this.have < size) break;
      this.have = 0;
      if (this.phase === 'header') {
        this.skip = this.part.readInt32BE(15);
        this.phase = 'count';
      } else if (this.phase === 'count') {
        const f = this.part.readInt16BE(0);
        if (f === -1) this.phase = 'done';
        else {
          rows++;
          this.fields = f;
          if (f > 0) this.phase = 'len';
        }
      } else {
        const len = this.part.readInt32BE(0);
        if (len > 0) this.skip = len;
        if (--this.fields === 0) this.phase = 'count';
      }
    }
    return rows;
  }
}
