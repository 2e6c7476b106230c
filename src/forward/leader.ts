import { Client } from 'pg';
import { connect } from '../common/db';
import { FencedError } from '../common/errors';
import type { Logger } from '../common/logger';
import { sleep } from '../common/sleep';

export const LOCK_CLASS = 1179800153; // 'FRRY', as ferry.lock_class()
export const IDLE_KEY = 1;
export const FORWARDER_KEY = 2;

/**
 * Leadership of one origin's forwarder: a session advisory lock on a dedicated connection. Whoever
 * holds it bumps ferry.state.forwarder_epoch; writes of an older epoch are refused (see fence()).
 * If the connection dies the lock is gone, and so is leadership: `lost` aborts.
 */
export class Leadership {
  readonly lost = new AbortController();
  private constructor(readonly client: Client, readonly epoch: number) {}

  static async acquire(url: string, log: Logger, stop: AbortSignal, retryMs = 1000): Promise<Leadership | null> {
    let announced = false;
    while (!stop.aborted) {
      const client = await connect(url, { application_name: `ferry-forwarder:${process.pid}` });
      // until leadership is handed over, a lost connection is just an error of the query in flight
      client.on('error', () => undefined);
      try {
        const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', [LOCK_CLASS, FORWARDER_KEY]);
        if (r.rows[0].ok) {
          const e = await client.query<{ epoch: string }>('update ferry.state set forwarder_epoch = forwarder_epoch + 1 returning forwarder_epoch as epoch');
          const l = new Leadership(client, Number(e.rows[0].epoch));
          client.on('error', (err) => {
            log.error({ err }, 'leader connection lost: giving up leadership');
            l.lost.abort();
          });
          client.on('end', () => l.lost.abort());
          return l;
        }
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      await client.end().catch(() => undefined);
      if (!announced) {
        log.info('another forwarder leads this origin; standing by');
        announced = true;
      }
      await sleep(retryMs, stop);
    }
    return null;
  }

  async release(): Promise<void> {
    await this.client.query('select pg_advisory_unlock_all()').catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

/** Inside a transaction: refuse to go on unless this epoch still leads (blocks a concurrent takeover until commit). */
export async function fence(db: Pick<Client, 'query'>, epoch: number): Promise<void> {
  const r = await db.query<{ e: string }>('select forwarder_epoch as e from ferry.state for share');
  const now = Number(r.rows[0].e);
  if (now !== epoch) throw new FencedError(`forwarder epoch ${epoch} was superseded by ${now}: another forwarder leads now`);
}
