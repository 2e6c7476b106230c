import { createServer, Server } from 'node:http';
import type { Pool } from 'pg';
import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import { registry } from '../common/metrics';
import { dcStatus } from './status';

/**
 * The sidecar's HTTP face: /healthz (the process runs), /readyz (the database answers and no
 * origin stream is stopped), /metrics (Prometheus), /status (JSON, as `ferry status --json`).
 */
export async function startHttp(cfg: FerryConfig, pool: Pool, log: Logger): Promise<Server> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (code: number, body: string, type = 'application/json') => {
      res.writeHead(code, { 'content-type': type });
      res.end(body);
    };
    try {
      if (path === '/healthz') return send(200, '{"ok":true}');
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
