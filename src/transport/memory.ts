import type { EncodedFrame } from '../protocol/envelope';
import type { Delivery, Publisher, Subscriber } from './types';

/** An in-process transport for unit tests only: never proof that Kafka or SQS work. */
export class MemoryBus {
  readonly topics = new Map<string, string[]>();
  append(origin: string, body: string): void {
    const t = this.topics.get(origin) ?? [];
    t.push(body);
    this.topics.set(origin, t);
  }
  messages(origin: string): string[] {
    return this.topics.get(origin) ?? [];
  }
}

export class MemoryPublisher implements Publisher {
  readonly kind = 'memory';
  constructor(private readonly bus: MemoryBus, private readonly origin: string) {}
  async start(): Promise<void> {}
  async publish(_tick: number, groups: AsyncIterable<EncodedFrame[]>): Promise<void> {
    const staged: string[] = [];
    for await (const g of groups) staged.push(...g.map((f) => f.body));
    for (const b of staged) this.bus.append(this.origin, b);
  }
  async stop(): Promise<void> {}
}

export class MemorySubscriber implements Subscriber {
  readonly kind = 'memory';
  readonly blocksWhileUnacked = false;
  private next = 0;
  private timer?: NodeJS.Timeout;
  acked = 0;
  constructor(private readonly bus: MemoryBus, private readonly origin: string) {}
  async start(handle: (batch: Delivery[]) => Promise<void>, resumeFrom?: string): Promise<void> {
    this.next = resumeFrom ? Number(resumeFrom) + 1 : 0;
    let busy = false;
    this.timer = setInterval(async () => {
      if (busy) return;
      busy = true;
      try {
        const msgs = this.bus.messages(this.origin);
        const batch = msgs.slice(this.next).map((body, i) => ({ body, origin: this.origin, offset: String(this.next + i) }));
        if (batch.length) {
          this.next += batch.length;
          await handle(batch);
        }
      } finally {
        busy = false;
      }
    }, 5);
  }
  private lastAcked = -1;
  async ack(d: Delivery[]): Promise<void> {
    this.acked += d.length;
    for (const x of d) this.lastAcked = Math.max(this.lastAcked, Number(x.offset));
  }
  async rewind(): Promise<void> {
    this.next = this.lastAcked + 1;
  }
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }
}
