import { Client } from 'pg';
import { connect, Queryable } from './db';
import { FencedError, isRetriable } from './errors';
import { AdvisoryKey, lockArgs } from './locks';
import type { Logger } from './logger';
import { backoff } from './retry';
import { sleep } from './sleep';

/**
 * Where a role keeps its epoch: bumped by every new leader, read (and locked) inside each of the
 * leader's write transactions so that an older leader's writes are refused (fencing).
 */
export interface EpochStore {
  /** On the leader's own connection, right after the lock is taken: the new epoch. */
  bump(db: Queryable): Promise<number>;
  /** Inside a write transaction: the current epoch, with its row locked until commit. */
  current(db: Queryable): Promise<number>;
}

export interface LeaderRole {
  /** For logs and application_name: 'forwarder', 'applier from dc-b'. */
  name: string;
  /** application_name of the leader's own connection. */
  appName: string;
  lock: AdvisoryKey;
  epochs: EpochStore;
}

/**
 * Leadership of one role: a session advisory lock on a dedicated connection. If that connection
 * ends, the lock is gone and so is leadership: `lost` aborts.
 */
export class Leadership {
  private readonly lostCtl = new AbortController();
  private constructor(
    readonly client: Client,
    readonly epoch: number,
    private readonly role: LeaderRole,
  ) {}

  get lost(): AbortSignal {
    return this.lostCtl.signal;
  }

  /** Takes the lock if free; null while another process holds it. */
  static async tryAcquire(url: string, role: LeaderRole, log: Logger): Promise<Leadership | null> {
    const client = await connect(url, { application_name: `${role.appName}:${process.pid}` });
    // until leadership is handed over, a lost connection is just an error of the query in flight
    client.on('error', () => undefined);
    try {
      const { sql, params } = lockArgs(role.lock);
      const r = await client.query<{ ok: boolean }>(`select pg_try_advisory_lock(${sql}) as ok`, params);
      if (!r.rows[0].ok) {
        await client.end().catch(() => undefined);
        return null;
      }
      const l = new Leadership(client, await role.epochs.bump(client), role);
      client.on('error', (err) => {
        log.error({ err }, `${role.name}: leader connection lost; giving up leadership`);
        l.lostCtl.abort();
      });
      client.on('end', () => l.lostCtl.abort());
      return l;
    } catch (e) {
      await client.end().catch(() => undefined);
      throw e;
    }
  }

  /** Inside a write transaction: refuse to go on unless this epoch still leads (blocks a takeover until commit). */
  async fence(db: Queryable): Promise<void> {
    this.assertEpoch(await this.role.epochs.current(db));
  }

  /**
   * The same refusal, for a write that read the epoch itself (its row locked until commit, as
   * current() does): one round trip fewer in a transaction that updates the epoch's row anyway.
   */
  assertEpoch(now: number): void {
    if (now !== this.epoch) throw new FencedError(`${this.role.name}: epoch ${this.epoch} was superseded by ${now}; another process leads now`);
  }

  async release(): Promise<void> {
    await this.client.query('select pg_advisory_unlock_all()').catch(() => undefined);
    await this.client.end().catch(() => undefined);
  }
}

export interface LeadOptions {
  url: string;
  role: LeaderRole;
  log: Logger;
  stop: AbortSignal;
  /** How often a standby tries the lock. */
  standbyMs?: number;
  /**
   * The leader's work. `signal` aborts on stop or when leadership is lost; it resolves when done.
   * A FencedError or a retriable error ends this term and the process tries to lead again.
   */
  lead(l: Leadership, signal: AbortSignal, log: Logger): Promise<void>;
}

/**
 * The run loop every leader-elected role shares: stand by until the lock is free, lead until
 * stopped, fenced or disconnected, then try again. Only an error that retrying cannot fix ends it.
 */
export async function runAsLeader(o: LeadOptions): Promise<void> {
  let failures = 0;
  let announced = false;
  while (!o.stop.aborted) {
    let l: Leadership | null;
    try {
      l = await Leadership.tryAcquire(o.url, o.role, o.log);
    } catch (e) {
      if (!isRetriable(e)) throw e;
      const wait = backoff(++failures);
      o.log.warn({ err: e }, `${o.role.name}: cannot reach the database to lead; trying again in ${wait} ms`);
      await sleep(wait, o.stop);
      continue;
    }
    if (!l) {
      if (!announced) o.log.info(`${o.role.name}: another process leads; standing by`);
      announced = true;
      await sleep(o.standbyMs ?? 1000, o.stop);
      continue;
    }
    announced = false;
    const log = o.log.child({ epoch: l.epoch });
    log.info(`${o.role.name}: leading`);
    const term = AbortSignal.any([o.stop, l.lost]);
    try {
      await o.lead(l, term, log);
      failures = 0;
    } catch (e) {
      if (e instanceof FencedError) log.warn(e.message);
      else if (isRetriable(e)) log.warn({ err: e }, `${o.role.name}: failed; will try to lead again`);
      else throw e;
      await sleep(backoff(++failures), o.stop);
    } finally {
      await l.release();
    }
  }
}
