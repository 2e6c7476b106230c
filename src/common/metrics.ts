import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

/** Seconds per stage of a change's way, for finding where latency goes (README "Latency"). */
const STAGE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
export const forwardStageSeconds = new Histogram({
  name: 'ferry_forward_stage_seconds',
  help: 'Per published batch: capture → tick cut (its oldest change), cut → taken by the forwarder, stamp, read + publish, of it read (read and encode the changes), mark published, cut → published',
  labelNames: ['origin', 'stage'],
  buckets: STAGE_BUCKETS,
  registers: [registry],
});
export const applyStageSeconds = new Histogram({
  name: 'ferry_apply_stage_seconds',
  help: "Per applied group: the origin's tick cut → delivered here (origin clock), delivered → applying, write, commit, tick cut → committed",
  labelNames: ['origin', 'stage'],
  buckets: STAGE_BUCKETS,
  registers: [registry],
});
