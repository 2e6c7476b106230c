-- Switch the capture functions to the next change table, if it is empty (pruned).
create or replace function ferry.rotate() returns boolean
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
--
-- p_stable: the snapshot of the last tick every peer has applied (null: nothing to keep). A local
-- change outside it may still meet a concurrent change from a peer, which needs its version: the
-- version is kept in ferry.row_versions before its change table is emptied (DESIGN.md §6).
do $$
begin
  if to_regprocedure('ferry.prune(text)') is not null then
    drop function ferry.prune(text);
  end if;
end $$;

create or replace function ferry.prune(p_lock_timeout text default '200ms', p_stable pg_snapshot default null) returns int[]
language plpgsql as $$
declare
  v_cur int;
  v_origin text;
  v_done pg_snapshot;
  v_pending boolean;
  v_any boolean;
  v_out int[] := '{}';
  s int;
  r record;
begin
  select slot, origin into v_cur, v_origin from ferry.state;
  select snap into v_done from ferry.ticks where published_at is not null order by tick desc limit 1;
  perform set_config('lock_timeout', p_lock_timeout, true);
  for s in select g from generate_series(0, 2) g where g <> v_cur loop
    -- an empty table is left alone: truncating it anew every pass (once a second) took its lock,
    -- gave it a new file and made every session that had touched the change tables rebuild its
    -- view of them and replan. (Rows of a writer still inserting are not seen here, so such a
    -- table is skipped too, and emptied on a later pass once they are committed and published.)
    execute format('select exists (select 1 from ferry.changes_%s)', s) into v_any;
    continue when not v_any;
    begin
      execute format('lock table ferry.changes_%s in access exclusive mode', s);
      execute format('select exists (select 1 from ferry.changes_%s where xid >= pg_snapshot_xmin($1) and not pg_visible_in_snapshot(xid, $1))', s)
        into v_pending using v_done;
      if not v_pending then
        if p_stable is not null then
          -- per table, with its key written out as the wire writes it (no per-row lookups)
          for r in select t.tbl, '''{'' || ' || string_agg(format('%L || (c.row -> %L)::text', to_json(k)::text || ': ', k), ' || '', '' || ' order by o) || ' || ''}''' as key
                     from ferry.tracked t cross join lateral unnest(t.key_cols) with ordinality u(k, o) group by t.tbl loop
            execute format($f$
              insert into ferry.row_versions as v (tbl, key, ms, origin, seq, deleted, xid, pos)
              select distinct on (k) %2$s, k, hlc, $2, id, false, xid, null
                from (select %3$s as k, c.hlc, c.id, c.xid from ferry.changes_%1$s c
                       where c.tbl = %2$s and c.op in ('I', 'U') and c.hlc is not null and not pg_visible_in_snapshot(c.xid, $1)) x
               order by k, id desc
              on conflict (tbl, key) do update set ms = excluded.ms, origin = excluded.origin, seq = excluded.seq, deleted = false, xid = excluded.xid, pos = null
               where (v.ms, v.origin, v.seq) < (excluded.ms, excluded.origin, excluded.seq)$f$, s, r.tbl::oid, r.key)
            using p_stable, v_origin;
          end loop;
        end if;
        execute format('truncate ferry.changes_%s', s);
        v_out := v_out || s;
      end if;
    exception when lock_not_available then
      null; -- a writer still holds it: try again on the next pass
    end;
  end loop;
  return v_out;
end $$;
