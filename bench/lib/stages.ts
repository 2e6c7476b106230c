// Where the latency goes: Ferry's own per-stage histograms (ferry_forward_stage_seconds at the
// origin, ferry_apply_stage_seconds at the destination), read from the processes' /metrics at the
// end of a run. Quantiles are interpolated inside Prometheus buckets: good to a bucket's width.
import { createServer } from 'node:net';

export interface StageFigure {
  side: 'forward' | 'apply';
  stage: string;
  n: number;
  meanMs: number;
  p50Ms: number;
  p99Ms: number;
}

/** A TCP port free at the moment (the process started next binds it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** The stage histograms of one process, for one origin's stream. */
export async function readStages(port: number, origin: string): Promise<StageFigure[]> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!res.ok) throw new Error(`GET /metrics on port ${port}: HTTP ${res.status}`);
  const text = await res.text();
  type H = { side: 'forward' | 'apply'; stage: string; buckets: [number, number][]; sum: number; count: number };
  const hs = new Map<string, H>();
  const re = /^ferry_(forward|apply)_stage_seconds_(bucket|sum|count)\{([^}]*)\} (\S+)$/;
  for (const line of text.split('\n')) {
    const m = re.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...m[3].matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (labels.origin !== origin) continue;
    const key = `${m[1]}/${labels.stage}`;
    let h = hs.get(key);
    if (!h) hs.set(key, (h = { side: m[1] as 'forward' | 'apply', stage: labels.stage, buckets: [], sum: 0, count: 0 }));
    const v = Number(m[4]);
    if (m[2] === 'bucket') h.buckets.push([labels.le === '+Inf' ? Infinity : Number(labels.le), v]);
    else if (m[2] === 'sum') h.sum = v;
    else h.count = v;
  }
  return [...hs.values()]
    .filter((h) => h.count > 0)
    .map((h) => ({ side: h.side, stage: h.stage, n: h.count, meanMs: (h.sum / h.count) * 1000, p50Ms: quantile(h.buckets, h.count, 0.5) * 1000, p99Ms: quantile(h.buckets, h.count, 0.99) * 1000 }));
}

function quantile(buckets: [number, number][], count: number, q: number): number {
  const bs = [...buckets].sort((a, b) => a[0] - b[0]);
  const rank = q * count;
  let prevLe = 0;
  let prevN = 0;
  for (const [le, n] of bs) {
    if (n >= rank) {
      if (!Number.isFinite(le)) return prevLe;
      return prevLe + ((le - prevLe) * (rank - prevN)) / Math.max(1, n - prevN);
    }
    prevLe = le;
    prevN = n;
  }
  return prevLe;
}
