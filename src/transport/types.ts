import type { EncodedFrame } from '../protocol/envelope';

/**
 * What the forwarder needs from a transport. It hands over already-encoded frames; a transport
 * never parses changes (that is protocol/'s job).
 */
export interface Publisher {
  readonly kind: string;
  /** Connects, creates topics/queues as needed, and (Kafka) fences any older producer of this origin. */
  start(): Promise<void>;
  /**
   * Publishes one batch: groups of frames in order. Resolves only when the transport holds all of
   * them durably; until then the batch is not published, and a retry publishes the same frames again.
   */
  publish(tick: number, frames: AsyncIterable<EncodedFrame[]>): Promise<void>;
  stop(): Promise<void>;
}

/** One message as a subscriber received it. ack() is called after the destination commit. */
export interface Delivery {
  body: string;
  origin: string;
  /** Where this message sits in the transport (Kafka offset), when the transport has one. */
  offset?: string;
  /** What the transport needs to forget the message (SQS receipt handle). */
  receipt?: string;
}

export interface Subscriber {
  readonly kind: string;
  /**
   * The transport delivers nothing more of the stream while any delivered message is
   * unacknowledged (an SQS FIFO message group). A consumer that must wait for later messages
   * before it can acknowledge earlier ones has to keep the earlier ones elsewhere and ack them.
   * Asserted by the transport conformance suite.
   */
  readonly blocksWhileUnacked: boolean;
  /**
   * Starts delivering messages of one origin to handle(). The handler resolves once the messages
   * are applied (or safely buffered); the subscriber may then let the transport forget them.
   * resumeFrom: the Kafka offset stored next to the applied position, if any.
   */
  start(handle: (batch: Delivery[]) => Promise<void>, resumeFrom?: string): Promise<void>;
  /**
   * Forgets every delivery not yet acked and delivers again from the last acked one (Kafka: seek
   * back; SQS: make the unacked messages visible again). Used when a gap does not fill.
   */
  rewind(): Promise<void>;
  /** Tells the transport that everything up to and including these deliveries is applied. */
  ack(deliveries: Delivery[]): Promise<void>;
  stop(): Promise<void>;
}
