import { createServer, Server } from 'node:http';
import type { Pool } from 'pg';
import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import { registry } from '../common/metrics';
import { dcStatus } from './status';
import { TokenError, waitForToken } from './wait';

/** GET /wait waits at most this long, whatever timeoutMs asks. */
const MAX_WAIT_MS = 60_000;

/**
 * The sidecar's HTTP face: /healthz (the process runs), /readyz (the database answers and no
 * origin stream is stopped), /metrics (Prometheus), /status (JSON, as `ferry status --json`),
 * /wait?token=T&timeoutMs=N (read-your-writes: 200 once applied, 504 on timeout, 400 on a bad token).
 */
export async function startHttp(cfg: FerryConfig, pool: Pool, log: Logger): Promise<Server> {
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://ferry');
    const path = url.pathname;
    const send = (code: number, body: string, type = 'application/json') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    try {
      if (path === '/healthz') return send(200, '{"ok":true}');
      if (path === '/wait') {
        const ms = Number(url.searchParams.get('timeoutMs') ?? 5000);
        if (!Number.isFinite(ms) || ms < 0) return send(400, JSON.stringify({ error: 'timeoutMs must be a number of milliseconds >= 0' }));
        const stop = new AbortController();
        res.once('close', () => stop.abort()); // the client went away: stop polling
        try {
          const r = await waitForToken(pool, cfg.origin, url.searchParams.get('token') ?? '', Math.min(ms, MAX_WAIT_MS), stop.signal);
          return send(r.applied ? 200 : 504, JSON.stringify(r));
        } catch (e) {
          if (e instanceof TokenError) return send(400, JSON.stringify({ error: e.message }));
          throw e;
        }
      }
      if (path === '/metrics') return send(200, await registry.metrics(), registry.contentType);
      if (path === '/readyz' || path === '/status') {
        const s = await dcStatus(pool, cfg);
        if (path === '/status') return send(200, JSON.stringify(s));
        return send(s.healthy ? 200 : 503, JSON.stringify({ ok: s.healthy, stopped: s.peers.filter((p) => p.status !== 'running').map((p) => p.origin) }));
      }
      send(404, '{"error":"not found"}');
    } catch (e) {
      send(503, JSON.stringify({ ok: false, error: (e as Error).message }));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.http.port, cfg.http.host, () => resolve());
  });
  log.info({ port: (server.address() as { port: number }).port }, 'http listening');
  return server;
}
