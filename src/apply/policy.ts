import type { FerryConfig } from '../config/schema';
import type { Logger } from '../common/logger';
import type { GroupContext } from './group-writer';
import type { Policy } from './merge';
import type { TableCatalog } from './table-info';

/** The merge policy the configuration names (conflicts.*). */
export function policyOf(cfg: FerryConfig): Policy {
  return cfg.conflicts.policy === 'origin-priority' ? { kind: 'origin-priority', order: cfg.conflicts.priority } : { kind: 'lww' };
}

/** What the group writer needs to apply `origin`'s changes to this DC. */
export function groupContext(cfg: FerryConfig, catalog: TableCatalog, origin: string, log: Logger): GroupContext {
  return {
    catalog,
    origin,
    self: cfg.origin,
    policy: policyOf(cfg),
    fn: cfg.conflicts.policy === 'function' ? cfg.conflicts.function : undefined,
    maxClockSkewMs: cfg.conflicts.maxClockSkewMs,
    onClockSkew: cfg.conflicts.onClockSkew,
    keepVersions: cfg.peers.length > 1,
    log,
  };
}
