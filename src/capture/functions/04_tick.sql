-- Cut a tick when changes may wait (DESIGN.md §3.1): the id sequence moved past the last tick's
-- last_id, or a change at or below it is committed now and was not visible in the last tick's
-- snapshot. The latter is a writer that was open at the last tick: its xid is either in that
-- snapshot's xip, or at or above its xmax (PostgreSQL sets xmax to latestCompletedXid + 1 and lists
-- in xip only running xids below it, so on a quiet database the newest writer is in no list at
-- all). Both are index lookups on the change tables' xid. An open writer need not be seen: the
-- ticker polls for as long as it runs. Late writers count only when any waiting change is enough
-- (p_min_changes 1: the interval is due). Between two due ticks the ticker asks for tickMaxChanges,
-- and under a steady load a late writer is nearly always there: counted then, a tick was cut at
-- every poll instead of every interval.
--
-- The first check is ORDER BY … LIMIT 1 in a scalar subquery (an EXISTS drops both), so that only
-- the xid index fits whatever the statistics: the ticker's session keeps the plan it made first,
-- while the change table was empty (change tables are never analysed), and a plain EXISTS was
-- planned as a sequential scan, 4–6 ms a call at 60k changes.
--
-- An older release returned a fourth column (open): a return type cannot be replaced in place.
do $$
begin
  if to_regprocedure('ferry.tick(boolean, bigint)') is not null
     and pg_get_function_result(to_regprocedure('ferry.tick(boolean, bigint)')) like '%open boolean%' then
    drop function ferry.tick(boolean, bigint);
  end if;
end $$;

create or replace function ferry.tick(p_force boolean default false, p_min_changes bigint default 1)
returns table (tick bigint, last_id bigint, pending bigint)
language plpgsql as $$
declare
  v_last bigint;
  v_prev ferry.ticks;
begin
  select case when s.is_called then s.last_value else 0 end into v_last from ferry.change_id_seq s;
  select * into v_prev from ferry.ticks t order by t.tick desc limit 1;
  -- an idle DC still ticks now and then when what it has applied moved on: its peers learn from the
  -- vector which of their changes it has (see ferry.row_versions)
  if not p_force and v_last - v_prev.last_id < p_min_changes
     and (clock_timestamp() - v_prev.created_at < interval '1 second'
          or (select coalesce(jsonb_object_agg(a.origin, a.pos), '{}') from ferry.applied a) = coalesce(v_prev.seen, '{}'))
     and (p_min_changes > 1 or (
       (select c.id from ferry.changes c
         where c.xid >= pg_snapshot_xmax(v_prev.snap) and c.id <= v_prev.last_id
         order by c.xid limit 1) is null
       and not exists (select 1 from pg_snapshot_xip(v_prev.snap) x
                        where exists (select 1 from ferry.changes c where c.xid = x and c.id <= v_prev.last_id)))) then
    return query select null::bigint, v_last, v_last - v_prev.last_id;
    return;
  end if;
  -- the applied vector is read in the same statement as the snapshot: every change of ours that
  -- committed after this tick (the batches after it) committed after what the vector covers was
  -- applied here (the forwarder sends it with the next batch, see forward/forwarder.ts)
  insert into ferry.ticks (tick, snap, last_id, seen)
  values (v_prev.tick + 1, pg_current_snapshot(), v_last,
          (select coalesce(jsonb_object_agg(a.origin, a.pos), '{}') from ferry.applied a));
  return query select v_prev.tick + 1, v_last, v_last - v_prev.last_id;
end $$;
