import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Metrics are separate from logs; server/ exposes this registry on /metrics. */
export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'ferry_process_' });

export const forwardedChanges = new Counter({ name: 'ferry_forward_changes_total', help: 'Changes published by this forwarder', labelNames: ['origin'], registers: [registry] });
export const forwardedBatches = new Counter({ name: 'ferry_forward_batches_total', help: 'Batches (ticks) published', labelNames: ['origin'], registers: [registry] });
export const forwardedFrames = new Counter({ name: 'ferry_forward_frames_total', help: 'Transport messages published', labelNames: ['origin'], registers: [registry] });
export const forwardLeader = new Gauge({ name: 'ferry_forward_leader', help: '1 while this process is the forwarder leader of the origin', labelNames: ['origin'], registers: [registry] });
export const forwardLagChanges = new Gauge({ name: 'ferry_forward_pending_ticks', help: 'Ticks cut but not yet published', labelNames: ['origin'], registers: [registry] });
export const appliedChanges = new Counter({ name: 'ferry_apply_changes_total', help: 'Changes applied to this DC', labelNames: ['origin'], registers: [registry] });
export const applyErrors = new Counter({ name: 'ferry_apply_errors_total', help: 'Apply failures by kind (retriable, gap, stopped)', labelNames: ['origin', 'kind'], registers: [registry] });
export const applyLeader = new Gauge({ name: 'ferry_apply_leader', help: '1 while this process leads the applier of the origin', labelNames: ['origin'], registers: [registry] });
export const conflictsResolved = new Counter({
  name: 'ferry_conflicts_total',
  help: 'Conflicts resolved here: a remote change met a local version from another DC (by origin of the remote change, table, rule, winner)',
  labelNames: ['origin', 'table', 'rule', 'winner'],
  registers: [registry],
});
export const clockSkew = new Gauge({ name: 'ferry_clock_skew_ms', help: "How far the newest change applied from an origin was ahead of this DC's clock (0 when behind)", labelNames: ['origin'], registers: [registry] });
