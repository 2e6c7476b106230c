/**
 * Every Ferry error says whether retrying can help (kafkajs's habit): one retry policy reads
 * `retriable` instead of ad-hoc try/catch around each call.
 */
export class FerryError extends Error {
  readonly retriable: boolean;
  constructor(message: string, opts: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.retriable = opts.retriable ?? false;
  }
}

/** Bad configuration: names the key and what would fix it. `ferry` exits 2. */
export class ConfigError extends FerryError {}

/**
 * A service the configuration names does not answer or refuses Ferry (database down or unknown,
 * wrong password, broker or queue unreachable): names the key and the fix. `ferry` exits 3.
 */
export class ServiceError extends FerryError {}

/** What `ferry` exits with: scripts tell a mistake in the config from a service that is down. */
export const EXIT = { error: 1, config: 2, service: 3 } as const;

/** A problem that needs an operator for one origin's stream (gap, poison message, schema mismatch). */
export class StreamError extends FerryError {
  constructor(
    message: string,
    readonly where: { origin: string; tick?: number; pos?: number },
    opts: { retriable?: boolean; cause?: unknown } = {},
  ) {
    super(`${message} (origin ${where.origin}${where.tick !== undefined ? `, tick ${where.tick}` : ''}${where.pos !== undefined ? `, pos ${where.pos}` : ''})`, opts);
  }
}

/**
 * A change this DC's schema does not take yet (a column, a table or a type that differs from the
 * origin's, while application DDL is rolled out DC by DC): the stream stops with the fix named, and
 * tries again by itself every few seconds, so it continues once the schema here matches.
 */
export class SchemaMismatch extends StreamError {}

/** SQLSTATEs of a write that this DC's schema refused: data exceptions (a value the column's type here
 * does not take), an undefined column or table. */
const SCHEMA_SQLSTATES = /^(22...|42703|42P01|42804)$/;

export function isSchemaRefusal(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && SCHEMA_SQLSTATES.test(code);
}

/**
 * The database history a stream belongs to changed: an origin's database restored to an earlier
 * point, promoted from a standby or moved to another cluster, or frames of a lineage this DC has not
 * accepted. Needs an operator (`ferry lineage accept`); `ferry` exits 1.
 */
export class LineageError extends FerryError {}

/** A leader that lost its epoch: another process took over; this one must stop writing. */
export class FencedError extends FerryError {}

/** SQLSTATEs after which the same work may simply be tried again (graphile-worker's list, plus connection loss). */
const RETRIABLE_SQLSTATES = new Set([
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '55P03', // lock_not_available
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '08000', '08003', '08006', '08001', '08004', // connection exceptions
]);

export function isRetriable(err: unknown): boolean {
  if (err instanceof FerryError) return err.retriable;
  const e = err as { code?: string; retriable?: boolean } | null;
  if (!e) return false;
  if (typeof e.retriable === 'boolean') return e.retriable;
  if (typeof e.code === 'string') {
    return RETRIABLE_SQLSTATES.has(e.code) || ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e.code);
  }
  return /Connection terminated|connection error|ECONNRESET/i.test(String((err as Error).message ?? ''));
}
