/**
 * Every advisory lock Ferry takes, in one place. SQL reads the class through ferry.lock_class()
 * (src/capture/functions); an integration test checks the two agree.
 */

/** 'FRRY': locks of this DC's capture and forward side, in the two-int form (class, key). */
export const LOCK_CLASS = 1179800153;
/** Forwarder leadership for this DC's origin. */
export const FORWARDER_KEY = 2;
/** Serialises the advances of this DC's clock floor (ferry.advance_clock). */
export const CLOCK_KEY = 3;
/** Serialises making capture functions anew after application DDL (ferry.refresh_tracked). */
export const REFRESH_KEY = 4;

/** 'FRRZ': applier leadership, one per (this DC, origin): (APPLY_LOCK_CLASS, hashtext(origin)). */
export const APPLY_LOCK_CLASS = 1179800154;

/** Transaction-level lock that serialises `ferry init` (taken as hashtext of this text). */
export const MIGRATE_LOCK_TEXT = 'ferry.migrate';

/** A session advisory lock key: two ints, or a class and a text hashed by PostgreSQL. */
export type AdvisoryKey = { classId: number; key: number } | { classId: number; text: string };

/** SQL arguments for pg_*advisory_lock($1, …): ($1, $2) or ($1, hashtext($2)). */
export function lockArgs(k: AdvisoryKey): { sql: string; params: [number, number | string] } {
  return 'key' in k ? { sql: '$1, $2', params: [k.classId, k.key] } : { sql: '$1, hashtext($2)', params: [k.classId, k.text] };
}
