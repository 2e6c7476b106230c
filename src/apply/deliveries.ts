import type { Pool } from 'pg';
import type { Logger } from '../common/logger';
import { inboxAbove, inboxCount, keepInInbox } from '../tables/inbox';
import type { Delivery, Subscriber } from '../transport/types';
import type { IntakeLedger } from './intake';

/**
 * The transport side of one origin's intake: acknowledgements, the frames a transport that stops
 * delivering while messages are unacknowledged (an SQS FIFO group) has to park in ferry.inbox, and
 * reading the stream again from the applied position.
 */
export class Deliveries {
  /**
   * ferry.inbox may hold frames of this origin: it held some when the session started, or this
   * session kept some. Only then does a commit have inbox rows to remove, so a transport that
   * never parks frames (Kafka) spares the statement.
   */
  inboxInUse = false;

  constructor(
    private readonly origin: string,
    private readonly pool: Pool,
    private readonly sub: Subscriber,
    private readonly ledger: IntakeLedger,
    private readonly log: Logger,
    /** Lets go of what the session holds beside the ledger (its open transaction, the gap watch) before a re-read. */
    private readonly beforeReread: () => Promise<void>,
  ) {}

  /** Frames kept in ferry.inbox by an earlier session: acknowledged already, not yet applied. */
  async loadInbox(): Promise<void> {
    // any row of this origin, applied or not: the next commit removes what it covers
    if (!this.inboxInUse) this.inboxInUse = (await inboxCount(this.pool, this.origin)) > 0;
    for (const body of await inboxAbove(this.pool, this.origin, this.ledger.applied)) this.ledger.receiveStored(body);
  }

  /**
   * Lets the transport forget applied messages. The rows are committed already, so a failure here
   * is no apply error; but a transport that blocks on unacknowledged messages would stall, so the
   * session then reads again from the applied position (they come back and are dropped as duplicates).
   */
  async ack(deliveries: Delivery[]): Promise<void> {
    try {
      await this.sub.ack(deliveries);
    } catch (err) {
      this.log.warn({ err }, 'the transport did not take the acknowledgement; re-reading from the applied position');
      if (this.sub.blocksWhileUnacked) await this.reread();
    }
  }

  /**
   * A transport that delivers nothing more while messages are unacknowledged would stall while the
   * applier waits for a gap or the rest of a source transaction: the waiting frames go to
   * ferry.inbox and are acknowledged, so the stream can move on.
   */
  async spillIfStalled(txOpen: boolean): Promise<void> {
    if (!this.sub.blocksWhileUnacked) return;
    if (!this.ledger.waiting(txOpen) || this.ledger.full()) return;
    const s = this.ledger.spill();
    if (!s) return;
    this.inboxInUse = true;
    await keepInInbox(this.pool, this.origin, s.keep);
    await this.ack(s.ack);
  }

  /** Drops everything received and reads again from the last applied position. */
  async reread(): Promise<void> {
    await this.beforeReread();
    this.ledger.reset();
    await this.sub.rewind();
    await this.loadInbox();
  }
}
