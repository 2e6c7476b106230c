-- Capture side of Ferry (DESIGN.md §2, §3). Runs as the database owner: no extension, no
-- superuser, no replication slot. Every identifier built at run time goes through format('%I').

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

-- Advisory lock keys (two-int form, class 1179800153 = 'FRRY'):
--   1: held by an idle forwarder; a writer that cannot take it shared wakes it with NOTIFY
--   2: forwarder leadership for this origin
create function ferry.lock_class() returns int language sql immutable as 'select 1179800153';

-- The body of one table's capture function. Generated per table so the key columns and the
-- target change table are constants: the trigger runs inside every user write.
create function ferry.capture_source(p_tbl regclass) returns text
language plpgsql stable as $$
declare
  t ferry.tracked;
  v_slot int;
  v_target text;
  v_newkey text;
  v_oldkey text;
  v_oldobj text;
begin
  select * into t from ferry.tracked where tbl = p_tbl;
  if not found then
    raise exception 'ferry: table % is not tracked', p_tbl;
  end if;
  select slot into v_slot from ferry.state;
  v_target := format('ferry.changes_%s', v_slot);
  select string_agg(format('NEW.%I', k), ', '), string_agg(format('OLD.%I', k), ', '),
         string_agg(format('%L, OLD.%I', k, k), ', ')
    into v_newkey, v_oldkey, v_oldobj
    from unnest(t.key_cols) k;
  return format($body$
begin
  -- writes applied by Ferry carry ferry.origin and are not captured again (loop prevention)
  if current_setting('ferry.origin', true) <> '' then
    return null;
  end if;
  -- an idle forwarder holds this lock exclusively; only then does a writer pay for NOTIFY
  if not pg_try_advisory_xact_lock_shared(%2$s, 1) then
    perform pg_notify('ferry_wake', '');
  end if;
  if TG_OP = 'UPDATE' then
    if (%4$s) is distinct from (%5$s) then
      insert into %1$s (tbl, op, row, old) values (%3$s, 'U', to_jsonb(NEW), jsonb_build_object(%6$s));
    else
      insert into %1$s (tbl, op, row) values (%3$s, 'U', to_jsonb(NEW));
    end if;
  elsif TG_OP = 'INSERT' then
    insert into %1$s (tbl, op, row) values (%3$s, 'I', to_jsonb(NEW));
  elsif TG_OP = 'DELETE' then
    insert into %1$s (tbl, op, row) values (%3$s, 'D', jsonb_build_object(%6$s));
  else
    insert into %1$s (tbl, op) values (%3$s, 'T');
  end if;
  return null;
end
$body$, v_target, ferry.lock_class(), p_tbl::oid, v_newkey, v_oldkey, v_oldobj);
end $$;

create function ferry.capture_function_name(p_tbl regclass) returns text
language sql immutable as $$ select format('ferry.%I', 'capture_' || p_tbl::oid) $$;

create function ferry.install_capture(p_tbl regclass) returns void
language plpgsql as $$
begin
  execute format('create or replace function %s() returns trigger language plpgsql as %L',
                 ferry.capture_function_name(p_tbl), ferry.capture_source(p_tbl));
end $$;

create function ferry.drop_capture_triggers(p_tbl regclass) returns void
language plpgsql as $$
declare
  r record;
begin
  for r in select tgname from pg_trigger where tgrelid = p_tbl and tgname in ('ferry_capture', 'ferry_capture_truncate') loop
    execute format('drop trigger %I on %s', r.tgname, p_tbl);
  end loop;
end $$;

-- Start capturing a table. p_key: explicit identity columns for a table without a primary key.
create function ferry.track(p_tbl regclass, p_key text[] default null) returns text
language plpgsql as $$
declare
  v_schema text;
  v_name text;
  v_key text[];
  v_source text;
  v_missing text;
  v_fn text;
begin
  if p_tbl::oid in (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'ferry') then
    raise exception 'ferry: cannot track Ferry''s own table %', p_tbl;
  end if;
  select n.nspname, c.relname into v_schema, v_name
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_tbl and c.relkind in ('r', 'p');
  if not found then
    raise exception 'ferry: % is not an ordinary table', p_tbl;
  end if;
  if p_key is not null and cardinality(p_key) > 0 then
    select string_agg(quote_ident(k), ', ') into v_missing
      from unnest(p_key) k
     where not exists (select 1 from pg_attribute a where a.attrelid = p_tbl and a.attname = k and a.attnum > 0 and not a.attisdropped);
    if v_missing is not null then
      raise exception 'ferry: table % has no column(s) % given as its key', p_tbl, v_missing;
    end if;
    v_key := p_key;
    v_source := 'explicit';
  else
    select array_agg(a.attname::text order by array_position(i.indkey::int2[], a.attnum))
      into v_key
      from pg_index i
      join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
     where i.indrelid = p_tbl and i.indisprimary;
    v_source := 'primary key';
    if v_key is null then
      raise exception 'ferry: table % has no primary key, so its rows cannot be identified at the other DCs', p_tbl
        using hint = 'Add a primary key, or name the columns that identify a row: ferry track --key col1,col2 TABLE (they must be unique and not null).';
    end if;
  end if;

  insert into ferry.tracked (tbl, schema_name, table_name, key_cols, key_source, active)
  values (p_tbl, v_schema, v_name, v_key, v_source, true)
  on conflict (tbl) do update set key_cols = excluded.key_cols, key_source = excluded.key_source,
                                  schema_name = excluded.schema_name, table_name = excluded.table_name, active = true;

  perform ferry.install_capture(p_tbl);
  v_fn := ferry.capture_function_name(p_tbl);
  perform ferry.drop_capture_triggers(p_tbl);
  execute format('create trigger ferry_capture after insert or update or delete on %s for each row execute function %s()', p_tbl, v_fn);
  execute format('create trigger ferry_capture_truncate after truncate on %s for each statement execute function %s()', p_tbl, v_fn);
  return format('%I.%I', v_schema, v_name);
end $$;

create function ferry.untrack(p_tbl regclass) returns text
language plpgsql as $$
begin
  perform ferry.drop_capture_triggers(p_tbl);
  -- the row stays (inactive): changes already captured still need its name and key to be sent
  update ferry.tracked set active = false where tbl = p_tbl;
  return p_tbl::text;
end $$;

-- Cut a tick when changes may wait: the id sequence moved, or a transaction that was still open at
-- the last tick (and had written changes) has ended since. last_value is read BEFORE the snapshot
-- is taken (two statements): every id <= last_id then belongs to a transaction whose xid is below
-- the snapshot's xmax, so it is either visible in it or listed as in progress.
-- [Wrong: xmax is latestCompletedXid + 1, not the next xid. 0003 replaces this function.]
create function ferry.tick(p_force boolean default false, p_min_changes bigint default 1)
returns table (tick bigint, last_id bigint, pending bigint, open boolean)
language plpgsql as $$
declare
  v_last bigint;
  v_prev ferry.ticks;
  v_open_done boolean;
  v_open_running boolean;
begin
  select case when s.is_called then s.last_value else 0 end into v_last from ferry.change_id_seq s;
  select * into v_prev from ferry.ticks t order by t.tick desc limit 1;
  if not p_force and v_last - v_prev.last_id < p_min_changes then
    select coalesce(bool_or(not running), false), coalesce(bool_or(running), false)
      into v_open_done, v_open_running
      from (select x in (select pg_snapshot_xip(pg_current_snapshot())) as running
              from pg_snapshot_xip(v_prev.snap) x
             where exists (select 1 from ferry.changes c where c.xid = x)) w;
    if not v_open_done then
      -- open: a writer that was running at the last tick still runs; its commit will need a tick
      return query select null::bigint, v_last, v_last - v_prev.last_id, v_open_running;
      return;
    end if;
  end if;
  insert into ferry.ticks (tick, snap, last_id)
  values (v_prev.tick + 1, pg_current_snapshot(), v_last);
  return query select v_prev.tick + 1, v_last, v_last - v_prev.last_id, false;
end $$;

-- Switch the capture functions to the next change table, if it is empty (pruned).
create function ferry.rotate() returns boolean
language plpgsql as $$
declare
  v_next int;
  v_empty boolean;
  r record;
begin
  perform 1 from ferry.state for update;
  select (slot + 1) % 3 into v_next from ferry.state;
  execute format('select not exists (select 1 from ferry.changes_%s)', v_next) into v_empty;
  if not v_empty then
    return false;
  end if;
  update ferry.state set slot = v_next, rotated_at = clock_timestamp(),
         rotated_at_id = (select case when is_called then last_value else 0 end from ferry.change_id_seq);
  for r in select tbl from ferry.tracked where active loop
    perform ferry.install_capture(r.tbl);
  end loop;
  return true;
end $$;

-- Empty the change tables that are not current and whose every row is in a published batch.
-- The ACCESS EXCLUSIVE lock waits out any writer still inserting into it (a session that began
-- before the rotation), so nothing committed later can be lost. Returns the slots emptied.
create function ferry.prune(p_lock_timeout text default '200ms') returns int[]
language plpgsql as $$
declare
  v_cur int;
  v_done pg_snapshot;
  v_pending boolean;
  v_out int[] := '{}';
  s int;
begin
  select slot into v_cur from ferry.state;
  select snap into v_done from ferry.ticks where published_at is not null order by tick desc limit 1;
  perform set_config('lock_timeout', p_lock_timeout, true);
  for s in select g from generate_series(0, 2) g where g <> v_cur loop
    begin
      execute format('lock table ferry.changes_%s in access exclusive mode', s);
      execute format('select exists (select 1 from ferry.changes_%s where xid >= pg_snapshot_xmin($1) and not pg_visible_in_snapshot(xid, $1))', s)
        into v_pending using v_done;
      if not v_pending then
        execute format('truncate ferry.changes_%s', s);
        v_out := v_out || s;
      end if;
    exception when lock_not_available then
      null; -- a writer still holds it: try again on the next pass
    end;
  end loop;
  return v_out;
end $$;
