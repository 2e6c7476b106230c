-- Lineage (docs/operations.md, "Restore, failover and lineage"): which database history this DC's
-- stream of positions belongs to. A database restored to an earlier point, a promoted standby or a
-- copy in a new cluster hands out positions again that its peers may already hold with other
-- changes; the forwarder notices and stops, and a new lineage (forked at the last stamped position)
-- is started only by `ferry lineage accept`.

-- The origin side: the database the stream was recorded in (pg_control_system().system_identifier,
-- the WAL timeline it was on), the lineage id its frames carry, and where that lineage forked from
-- its parent (positions up to lineage_since are the parent's, change for change).
alter table ferry.state add column system_identifier text;
alter table ferry.state add column timeline bigint;
alter table ferry.state add column lineage text;
alter table ferry.state add column lineage_since bigint not null default 0;
alter table ferry.state add column lineage_parent text;
alter table ferry.state add column lineage_at timestamptz;
-- the first tick in this cluster's transaction ids (ticks before it name another cluster's xids)
alter table ferry.state add column xid_base_tick bigint not null default 0;

-- Made here, at `ferry init`: a new database's lineage is its own, forked at nothing. (`ferry init`
-- records system_identifier and timeline right after, as far as this role may read them.)
update ferry.state set lineage = gen_random_uuid()::text, lineage_at = clock_timestamp();
alter table ferry.state alter column lineage set not null;

-- The destination side, per origin: the lineage this DC applies (the first one seen is recorded:
-- trust on first use), where it forked, the lineages it replaced (their frames are read only up to
-- the fork), and the lineage a stopped stream was offered (what `ferry lineage accept --origin`
-- accepts).
alter table ferry.applied add column lineage text;
alter table ferry.applied add column lineage_since bigint not null default 0;
alter table ferry.applied add column lineage_retired text[] not null default '{}';
alter table ferry.applied add column lineage_offered jsonb;
