import type { Pool } from 'pg';
import { StreamError } from '../common/errors';
import type { Logger } from '../common/logger';
import { applyErrors } from '../common/metrics';
import { offerLineage, stopStream } from '../tables/applied';
import { LineageRefused } from './lineage-gate';

/**
 * Records why an origin's stream stopped (ferry.applied: the message, the position at fault, the
 * kind), logs it with what the operator does next, and counts it. A lineage refusal also records the
 * lineage offered, for `ferry lineage accept --origin`. Never throws: a failure to record is logged.
 */
export async function recordStop(pool: Pool, origin: string, e: Error, kind: 'error' | 'schema', nextPos: number, log: Logger): Promise<void> {
  const recorded = (err: unknown) => log.error({ err }, 'could not record the error');
  if (e instanceof LineageRefused) {
    log.error(e.message);
    applyErrors.inc({ origin, kind: 'stopped' });
    await offerLineage(pool, origin, e.offered)
      .then(() => stopStream(pool, origin, e.message, nextPos, 'lineage'))
      .catch(recorded);
    return;
  }
  if (kind === 'schema') log.error(e.message + ' — the stream of this origin is stopped until then');
  else log.error(e.message + ' — the stream of this origin is stopped; fix the cause and run `ferry resume`, or `ferry skip` the change');
  applyErrors.inc({ origin, kind: kind === 'schema' ? 'schema' : 'stopped' });
  const pos = e instanceof StreamError && e.where.pos !== undefined ? e.where.pos : nextPos;
  await stopStream(pool, origin, e.message, pos, kind).catch(recorded);
}
