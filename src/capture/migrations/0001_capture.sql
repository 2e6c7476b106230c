-- Capture side of Ferry (DESIGN.md §2, §3): tables only. The functions are in src/capture/functions/
-- and are (re)installed by every `ferry init`. Runs as the database owner: no extension, no
-- superuser, no replication slot.

create schema if not exists ferry;

-- One row of mutable state for this DC's capture side.
create table ferry.state (
  singleton boolean primary key default true check (singleton),
  -- which of the change tables the capture functions write to now (see ferry.rotate)
  slot int not null default 0,
  rotated_at timestamptz not null default clock_timestamp(),
  rotated_at_id bigint not null default 0,
  -- bumped by every new forwarder leader; the old leader's writes are refused (fencing)
  forwarder_epoch bigint not null default 0
);
insert into ferry.state default values;

-- CACHE 1 is essential (§3.2): with a cache, one session's ids could run ahead of another's and
-- "largest id in the transaction" would no longer order dependent transactions.
create sequence ferry.change_id_seq cache 1;

-- The parent is never written: changes go to one of three children, which take turns (PgQ's
-- rotation) so that published rows leave by TRUNCATE instead of DELETE + vacuum. Lean on purpose:
-- no primary key, the table as an oid, one jsonb image, one index (on xid), no autovacuum.
create table ferry.changes (
  id bigint not null default nextval('ferry.change_id_seq'),
  xid xid8 not null default pg_current_xact_id(),
  tbl oid not null,
  op "char" not null,        -- I U D T
  row jsonb,                 -- I/U: the new row; D: the old key; T: null
  old jsonb                  -- U only, and only when the key changed: the old key
) with (autovacuum_enabled = false);
create table ferry.changes_0 () inherits (ferry.changes) with (fillfactor = 100, autovacuum_enabled = false);
create table ferry.changes_1 () inherits (ferry.changes) with (fillfactor = 100, autovacuum_enabled = false);
create table ferry.changes_2 () inherits (ferry.changes) with (fillfactor = 100, autovacuum_enabled = false);
create index changes_0_xid on ferry.changes_0 (xid);
create index changes_1_xid on ferry.changes_1 (xid);
create index changes_2_xid on ferry.changes_2 (xid);

create table ferry.tracked (
  tbl regclass primary key,
  schema_name text not null,
  table_name text not null,
  key_cols text[] not null,
  key_source text not null check (key_source in ('primary key', 'explicit')),
  active boolean not null default true,
  tracked_at timestamptz not null default now()
);

-- A batch is every change whose transaction committed between two consecutive ticks (§3.1).
-- first_pos/cnt are stamped once, before anything of the batch is published, so a re-publish after
-- a crash repeats the very same positions.
create table ferry.ticks (
  tick bigint primary key,
  snap pg_snapshot not null,
  last_id bigint not null,
  created_at timestamptz not null default clock_timestamp(),
  first_pos bigint,
  cnt bigint,
  epoch bigint,
  published_at timestamptz
);
insert into ferry.ticks (tick, snap, last_id, first_pos, cnt, published_at)
values (0, pg_current_snapshot(), 0, 1, 0, clock_timestamp());
