import { Applier } from '../apply/applier';
import type { FerryConfig } from '../config/schema';
import { checkApplierRole } from '../capture/applier-role';
import { checkOrigin, checkSchema } from '../capture/migrate';
import { connect, createPool, databaseError } from '../common/db';
import { FerryError, ServiceError } from '../common/errors';
import type { Logger } from '../common/logger';
import { unfinishedBootstrap } from '../tables/bootstrap';
import { backoff } from '../common/retry';
import { sleep } from '../common/sleep';
import { Forwarder } from '../forward/forwarder';
import { publisherFor, subscriberFor } from '../transport';
import { probeTransport, STARTUP_KEY } from '../transport/probe';
import { startHttp } from './http';

/**
 * Waits for this DC's database to answer (it may start after Ferry) for at most startupTimeoutMs,
 * then refuses to go on if schema ferry is missing or not at this build's migration. False if
 * stopped while waiting.
 */
export async function schemaReady(config: FerryConfig, log: Logger, stop: AbortSignal, opts: { applies?: boolean } = {}): Promise<boolean> {
  let warned = false;
  const deadline = Date.now() + config.startupTimeoutMs;
  for (let attempt = 1; !stop.aborted; attempt++) {
    let c;
    try {
      c = await connect(config.database, { application_name: 'ferry-check' });
    } catch (e) {
      const err = databaseError(e, config.database);
      // a wrong password or database name will not fix itself: say so and exit
      if (!err.retriable) throw err;
      // nor, at start, a database that does not answer within startupTimeoutMs (the orchestrator restarts us)
      if (Date.now() >= deadline) throw new ServiceError(`${err.message} (waited ${config.startupTimeoutMs} ms; ${STARTUP_KEY} sets how long)`, { cause: e });
      if (!warned) log.warn({ reason: err.message }, "cannot reach this DC's database yet; trying again until it answers");
      warned = true;
      await sleep(Math.min(backoff(attempt), Math.max(0, deadline - Date.now())), stop);
      continue;
    }
    try {
      await checkSchema(c);
      await checkOrigin(c, config.origin);
      if (opts.applies) await checkApplierRole(c);
      const from = await unfinishedBootstrap(c);
      if (from) throw new FerryError(`a bootstrap of this DC from ${from} has not finished: run \`ferry bootstrap --from ${from}\` again (it resumes where it stopped), then start Ferry`);
      return true;
    } finally {
      await c.end().catch(() => undefined);
    }
  }
  return false;
}

export interface Parts {
  forward: boolean;
  apply: boolean;
  http: boolean;
}

/**
 * Everything one DC runs: the forwarder of its own origin, an applier per peer, and the HTTP
 * endpoints. Resolves when stop aborts and every part has finished its current batch.
 */
export async function runSidecar(config: FerryConfig, log: Logger, stop: AbortSignal, parts: Parts): Promise<void> {
  if (!(await schemaReady(config, log, stop, { applies: parts.apply }))) return;
  if (parts.forward || parts.apply) await probeTransport(config, stop);
  const pool = parts.http ? createPool(config.database, { max: 2, application_name: 'ferry-http' }) : undefined;
  const http = pool ? await startHttp(config, pool, log.child({ role: 'http' })) : undefined;
  const tasks: Promise<void>[] = [];
  if (parts.forward) tasks.push(new Forwarder(config, publisherFor(config, log), log.child({ role: 'forwarder' })).run(stop));
  if (parts.apply) {
    if (!config.peers.length) log.warn('no peers configured: nothing to apply');
    for (const origin of config.peers) {
      const l = log.child({ role: 'applier', from: origin });
      tasks.push(new Applier(config, origin, () => subscriberFor(config, origin, l), l).run(stop));
    }
  }
  try {
    // a part that fails for good ends the whole process (the orchestrator restarts it)
    await Promise.all(tasks);
  } finally {
    http?.close();
    await pool?.end().catch(() => undefined);
  }
}
