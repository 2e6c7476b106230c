/** Resolves after ms, or at once when the signal aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A wake-up flag: wait() resolves at the next notify() (or one that came since the last wait). */
export class Signal {
  private pending = false;
  private waiters: (() => void)[] = [];
  notify(): void {
    this.pending = true;
    const w = this.waiters;
    this.waiters = [];
    w.forEach((f) => f());
  }
  async wait(ms: number, abort?: AbortSignal): Promise<void> {
    if (this.pending || abort?.aborted) {
      this.pending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        abort?.removeEventListener('abort', done);
        this.waiters = this.waiters.filter((x) => x !== done);
        resolve();
      };
      const t = setTimeout(done, ms);
      abort?.addEventListener('abort', done, { once: true });
      this.waiters.push(done);
    });
    this.pending = false;
  }
}
