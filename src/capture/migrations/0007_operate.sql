-- Operations (DESIGN.md §7): read-your-writes tokens, and bootstrap of a new DC.

-- Every transaction of the origin visible in this snapshot is applied here: the snapshot of the
-- origin's tick whose whole batch is applied (a frame carries its tick's snapshot and the batch's
-- last position, so the applier knows when the batch is complete). ferry.wait_for(token) answers
-- with it. snap_tick orders them: a redelivered older frame never moves it back.
alter table ferry.applied add column snap pg_snapshot;
alter table ferry.applied add column snap_tick bigint;

-- `ferry bootstrap --from DC` filled this DC from a peer. One row while it runs and after.
create table ferry.bootstrap (
  singleton boolean primary key default true check (singleton),
  source text not null,
  started_at timestamptz not null default now(),
  finished_at timestamptz,
  -- per origin, the last position whose changes a copy may already hold ({origin: pos}); the
  -- applier drops what a copy holds only up to there (set when the bootstrap finishes)
  covered jsonb
);

-- One row per table (or group of tables linked by foreign keys) copied, in the same destination
-- transaction as its rows: a rerun skips them. Each was read in its own snapshot at the source.
create table ferry.bootstrap_tables (
  tbl text primary key,         -- the table as the wire names it
  snap pg_snapshot not null,    -- the source's snapshot the rows were read in
  -- what that snapshot holds, per origin: {origin: {pos, tick, offset, snap, seen}}; for the source
  -- itself pos is the end of the last stamped batch visible in it (later ones are told by xid)
  applied jsonb not null,
  rows bigint not null,
  copied_at timestamptz not null default now()
);
