// Resident memory of a process, from /proc/<pid>/status: VmHWM is the kernel's own peak of the
// resident set (so no spike between samples is missed), VmRSS the current value.
import { readFileSync } from 'node:fs';

function readKb(pid: number): { hwm: number; rss: number } | undefined {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(s);
    const rss = /VmRSS:\s+(\d+) kB/.exec(s);
    if (!hwm || !rss) return undefined;
    return { hwm: Number(hwm[1]), rss: Number(rss[1]) };
  } catch {
    return undefined; // the process is gone
  }
}

export class RssSampler {
  private peakKb = 0;
  private maxRssKb = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pid: number,
    everyMs = 250,
  ) {
    this.sample();
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }

  sample(): void {
    const r = readKb(this.pid);
    if (!r) return;
    this.peakKb = Math.max(this.peakKb, r.hwm);
    this.maxRssKb = Math.max(this.maxRssKb, r.rss);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Peak resident set in MB (VmHWM, else the largest VmRSS sampled). */
  peakMb(): number {
    return Math.max(this.peakKb, this.maxRssKb) / 1024;
  }
}
