import { SingleBar } from 'cli-progress';

/**
 * Progress of the copy, table by table: a bar with rows, rows/s and ETA on a terminal, plain lines
 * (every few seconds and at the end of each table) otherwise, so logs and CI output stay readable.
 */
export interface Progress {
  /** `total`: about how many rows (the planner's count); the bar grows if there are more. */
  table(name: string, total: number): void;
  rows(n: number): void;
  done(): void;
  say(line: string): void;
}

export function progress(out: NodeJS.WriteStream = process.stderr, plainEveryMs = 5000): Progress {
  return out.isTTY ? new BarProgress(out) : new LineProgress(out, plainEveryMs);
}

const rate = (rows: number, ms: number) => (ms > 0 ? Math.round((rows * 1000) / ms) : 0);

class BarProgress implements Progress {
  private bar?: SingleBar;
  private count = 0;
  constructor(private readonly out: NodeJS.WriteStream) {}

  table(name: string, total: number): void {
    this.count = 0;
    this.bar = new SingleBar({
      stream: this.out,
      format: `${name.padEnd(28).slice(0, 28)} {bar} {percentage}% | {value}/{total} rows | {speed} rows/s | ETA {eta_formatted}`,
      etaBuffer: 50,
      fps: 5,
      hideCursor: true,
    });
    this.bar.start(Math.max(total, 1), 0, { speed: 0 });
    this.started = Date.now();
  }
  private started = 0;

  rows(n: number): void {
    this.count += n;
    if (this.bar && this.count > this.bar.getTotal()) this.bar.setTotal(this.count);
    this.bar?.update(this.count, { speed: rate(this.count, Date.now() - this.started) });
  }

  done(): void {
    if (this.bar) {
      this.bar.setTotal(Math.max(this.count, 1));
      this.bar.update(this.count, { speed: rate(this.count, Date.now() - this.started) });
      this.bar.stop();
    }
    this.bar = undefined;
  }

  say(line: string): void {
    this.out.write(line + '\n');
  }
}

class LineProgress implements Progress {
  private name = '';
  private total = 0;
  private count = 0;
  private started = 0;
  private last = 0;
  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly everyMs: number,
  ) {}

  table(name: string, total: number): void {
    Object.assign(this, { name, total, count: 0, started: Date.now(), last: Date.now() });
  }

  rows(n: number): void {
    this.count += n;
    if (Date.now() - this.last >= this.everyMs) {
      this.last = Date.now();
      this.line();
    }
  }

  done(): void {
    this.line(true);
  }

  say(line: string): void {
    this.out.write(line + '\n');
  }

  private line(end = false): void {
    const ms = Date.now() - this.started;
    const r = rate(this.count, ms);
    const eta = !end && r > 0 && this.total > this.count ? `, ETA ${Math.ceil((this.total - this.count) / r)} s` : '';
    this.out.write(`${this.name}: ${this.count}${end ? '' : ` of about ${Math.max(this.total, this.count)}`} rows${end ? ` copied in ${(ms / 1000).toFixed(1)} s` : ''}, ${r} rows/s${eta}\n`);
  }
}
