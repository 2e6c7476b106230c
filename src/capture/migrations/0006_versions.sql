-- Active-active (DESIGN.md §6): row versions, tombstones, conflicts, counters.

-- Which DC this database is: set by `ferry init` from its configuration, checked by every command,
-- and written into the capture functions (a local tombstone names its origin).
alter table ferry.state add column origin text;
-- Added to this DC's wall clock wherever Ferry reads it (capture, ticker, applier): zero, but a
-- test can put one DC minutes ahead of the others, as a wrong clock would.
alter table ferry.state add column clock_offset_ms bigint not null default 0;

-- The floor of this DC's hybrid logical clock, in milliseconds. Every captured change is stamped with
-- it; it only moves forward (ferry.advance_clock, serialised by an advisory lock): to the wall clock
-- (kept fresh by the ticker and by writers that find it stale) and past every remote version this DC
-- applies, so a causally later local write always has the greater version. Never nextval'd.
create sequence ferry.clock minvalue 0 start with 0;
select setval('ferry.clock', (extract(epoch from clock_timestamp()) * 1000)::bigint);

alter table ferry.changes add column hlc bigint;
-- row_to_json(NEW) is cheaper to make than to_jsonb(NEW) and keeps values as PostgreSQL wrote them
-- (a float's -0, a json column's text): the row image is json from now on.
alter table ferry.changes alter column row type json using row::json;
-- A counter column's share of this DC after the change: {col: {dc: value}} (see ferry.counters).
alter table ferry.changes add column counters jsonb;

-- The applied positions of this DC (its version vector) as of each tick, sent with the batch: a peer
-- learns from it which of its own changes, and which of third DCs', this DC had applied by then.
alter table ferry.ticks add column seen jsonb;
-- The vector of each origin as of its last batch applied here (see ferry.row_versions purge).
alter table ferry.applied add column peer_seen jsonb not null default '{}';
-- How far ahead of this DC's clock the origin's newest applied change was stamped (the skew alarm).
alter table ferry.applied add column clock_ahead_ms bigint not null default 0;

-- The version of rows whose latest write may still meet a concurrent one (DESIGN.md §6): rows the
-- applier wrote (remote versions, with the applier's xid, so a later local write is told apart by
-- the row's xmin), tombstones of rows deleted here or by the applier, and local versions kept past
-- the rotation of the change table that held them. A row is purged once every peer has applied
-- past it (nothing concurrent with it can still come); with no entry, a row is older than anything
-- still to arrive.
create table ferry.row_versions (
  tbl oid not null,
  key text not null,            -- the key as the wire writes it (src/protocol/json-scan.ts)
  ms bigint not null,
  origin text not null,
  seq bigint not null,
  deleted boolean not null default false,
  xid xid8,                     -- the transaction that wrote the row so (to compare with its xmin)
  pos bigint,                   -- position of that change in its origin's stream (for the purge);
                                -- null for this DC's own changes, placed by their xid instead
  primary key (tbl, key)
);
create index row_versions_origin_pos on ferry.row_versions (origin, pos);

-- One row per resolution, on by default: what met, which rule chose, who won, where.
create table ferry.conflicts (
  id bigint generated always as identity primary key,
  tbl text not null,
  key jsonb not null,
  rule text not null,           -- lww, origin-priority, function:<name>, unique:<index>
  winner text not null check (winner in ('local', 'remote')),
  local_version text,
  local_origin text,
  remote_version text not null,
  remote_origin text not null,
  remote_pos bigint not null,
  resolved_by text not null,
  resolved_at timestamptz not null default now(),
  unique (remote_origin, remote_pos, rule)
);
create index conflicts_resolved_at on ferry.conflicts (resolved_at);

-- Rows that lost a unique-secondary-key conflict: kept whole, with why, never silently dropped.
create table ferry.quarantine (
  id bigint generated always as identity primary key,
  tbl text not null,
  key jsonb not null,
  row jsonb,
  version text not null,
  origin text not null,
  reason text not null,
  quarantined_by text not null,
  quarantined_at timestamptz not null default now()
);

-- Counter columns (opt-in, `ferry track --counter col`): each DC's share of the value, so two DCs
-- adding 1 at once add 2, and a redelivered change cannot add twice. The column's value is the sum.
alter table ferry.tracked add column counters text[] not null default '{}';
create table ferry.counters (
  tbl oid not null,
  key text not null,
  col text not null,
  dc text not null,             -- the DC whose share this is ('' for the value counting began with)
  value numeric not null,
  ms bigint not null,           -- the version of the change that set it: ms, origin, seq
  origin text not null,
  seq bigint not null,
  primary key (tbl, key, col, dc)
);
-- The newest delete of a counted row: shares set by older changes no longer count (a delete resets
-- the counter, in every DC alike, whatever the order its changes arrive in).
create table ferry.counter_resets (
  tbl oid not null,
  key text not null,
  ms bigint not null,
  origin text not null,
  seq bigint not null,
  primary key (tbl, key)
);
