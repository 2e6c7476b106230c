import { z } from 'zod';

const dcId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,39}$/, 'a DC id is 1-40 characters of a-z, 0-9, "-" and "_", starting with a letter or digit');

const kafka = z.object({
  kind: z.literal('kafka'),
  brokers: z.array(z.string().min(1)).min(1, 'give at least one broker as host:port'),
  topicPrefix: z.string().regex(/^[A-Za-z0-9._-]+$/).default('ferry'),
  clientId: z.string().default('ferry'),
  /** Kafka's default message.max.bytes is about 1 MB; frames stay under this. */
  maxFrameBytes: z.number().int().min(1024).default(512_000),
  /** A batch larger than this (one huge source transaction) is published in several Kafka transactions. */
  maxTransactionBytes: z.number().int().min(1024).default(64 * 1024 * 1024),
});

const sqs = z.object({
  kind: z.literal('sqs'),
  endpoint: z.string().url().optional(),
  region: z.string().default('us-east-1'),
  queuePrefix: z.string().regex(/^[A-Za-z0-9_-]+$/).default('ferry'),
  /** Optional: otherwise the standard AWS credential chain is used. Never logged. */
  accessKeyId: z.string().optional(),
  secretAccessKey: z.string().optional(),
  /** One SQS message (and one SendMessageBatch call) holds at most 256 KiB unless raised. */
  maxFrameBytes: z.number().int().min(1024).default(250_000),
  maxBatchBytes: z.number().int().min(1024).default(262_144),
  waitTimeSeconds: z.number().int().min(0).max(20).default(10),
  visibilityTimeoutSeconds: z.number().int().min(5).default(60),
});

export const transportSchema = z.discriminatedUnion('kind', [kafka, sqs]);

export const configSchema = z
  .object({
    origin: dcId,
    database: z.string().regex(/^postgres(ql)?:\/\//, 'database must be a postgres:// connection URL'),
    transport: transportSchema,
    /** Origins whose changes this DC applies. */
    peers: z.array(dcId).default([]),
    /**
     * Other DCs' databases, read (and, for `verify --repair`, written) directly by `ferry bootstrap`
     * and `ferry verify` only; `ferry run` never needs them. Credentials in them are never logged.
     */
    peerDatabases: z.record(dcId, z.string().regex(/^postgres(ql)?:\/\//, 'a peer database must be a postgres:// connection URL')).default({}),
    /** DCs that apply this origin's changes (one SQS queue each); defaults to peers. */
    destinations: z.array(dcId).optional(),
    /**
     * At start-up, how long `run`, `forward` and `apply` wait for this DC's database and the
     * transport's server to answer before they exit 3 naming the address and its key. Once running,
     * a server that goes away is waited for as long as it takes.
     */
    startupTimeoutMs: z.number().int().min(0).default(30_000),
    http: z.object({ port: z.number().int().min(0).max(65535).default(8080), host: z.string().default('0.0.0.0') }).prefault({}),
    forward: z
      .object({
        /** A tick is cut at most this often while changes arrive (latency vs. batch size). */
        tickIntervalMs: z.number().int().min(1).default(50),
        /** ...and as soon as this many changes wait, whatever the interval. */
        tickMaxChanges: z.number().int().min(1).default(10_000),
        /** After this long with no changes the forwarder looks for writes less often... */
        idleAfterMs: z.number().int().min(0).default(2_000),
        /** ...every this many ms (the most an idle DC's first write waits before it is ticked). */
        idleCheckMs: z.number().int().min(5).default(100),
        /** Rotate the change table this often so published rows are removed by TRUNCATE. */
        rotateIntervalMs: z.number().int().min(100).default(30_000),
        rotateMaxChanges: z.number().int().min(1).default(500_000),
        /** Rows read per round trip while streaming a large batch. */
        readChunk: z.number().int().min(1).default(5_000),
      })
      .prefault({}),
    apply: z
      .object({
        /** Source transactions are grouped into one destination transaction up to about this many changes. */
        groupChanges: z.number().int().min(1).default(5_000),
        /** Changes held out of order at most; beyond it the applier stops reading (backpressure). */
        bufferChanges: z.number().int().min(100).default(100_000),
        /** A missing position that does not arrive within this time stops the origin's stream loudly. */
        gapTimeoutMs: z.number().int().min(100).default(30_000),
      })
      .prefault({}),
    conflicts: z
      .object({
        /**
         * How concurrent writes of one row are resolved: lww (last writer by version wins),
         * origin-priority (the DC listed first in `priority` wins, versions decide within one DC),
         * or function (a SQL function of yours chooses; it must choose the same in every DC).
         */
        policy: z.enum(['lww', 'origin-priority', 'function']).default('lww'),
        /** For origin-priority: DCs from the highest priority down. */
        priority: z.array(dcId).default([]),
        /** For function: schema.name of fn(tbl text, key jsonb, local jsonb, remote jsonb) returns text ('local' or 'remote'). */
        function: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$/, 'give the function as schema.name').optional(),
        /** A remote version more than this ahead of this DC's clock raises the clock-skew alarm. */
        maxClockSkewMs: z.number().int().min(0).default(60_000),
        /** What the alarm does: alert (log, metric, status; the change is applied) or stop (the origin's stream stops). */
        onClockSkew: z.enum(['alert', 'stop']).default('alert'),
        /** ferry.conflicts rows older than this many days are deleted (0: kept for ever). */
        keepDays: z.number().min(0).default(30),
      })
      .prefault({})
      .refine((c) => c.policy !== 'function' || c.function, { message: 'policy function needs conflicts.function (schema.name)', path: ['function'] })
      .refine((c) => c.policy !== 'origin-priority' || c.priority.length > 0, { message: 'policy origin-priority needs conflicts.priority (a list of DCs)', path: ['priority'] }),
  })
  .strict()
  .transform((c) => ({ ...c, destinations: c.destinations ?? c.peers }));

export type FerryConfig = z.output<typeof configSchema>;
export type TransportConfig = FerryConfig['transport'];
export type KafkaConfig = Extract<TransportConfig, { kind: 'kafka' }>;
export type SqsConfig = Extract<TransportConfig, { kind: 'sqs' }>;
