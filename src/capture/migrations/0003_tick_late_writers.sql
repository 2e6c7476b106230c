-- ferry.tick() missed a writer that was open at the last tick when its xid was at or above that
-- snapshot's xmax. PostgreSQL sets xmax to latestCompletedXid + 1 and lists in xip only running
-- xids BELOW it: on a quiet database the newest writer is in no list at all. Once it committed, no
-- new id moved the sequence and no listed writer had ended, so no tick was cut and its changes
-- waited for the next write (forever, if writes had stopped).
--
-- Changes with ids above the last tick's last_id are counted by `pending`. One at or below it waits
-- for a tick exactly when it is committed (visible now) and not visible in the last tick's
-- snapshot: its xid is then either in that snapshot's xip or at or above its xmax, and both are
-- index lookups on the change tables' xid. The `open` column is gone: it
-- could not see an open writer (its rows are invisible until commit), and it need not, since an
-- open writer holds the shared idle lock and so keeps the ticker polling (see the trigger).
drop function ferry.tick(boolean, bigint);

create function ferry.tick(p_force boolean default false, p_min_changes bigint default 1)
returns table (tick bigint, last_id bigint, pending bigint)
language plpgsql as $$
declare
  v_last bigint;
  v_prev ferry.ticks;
begin
  select case when s.is_called then s.last_value else 0 end into v_last from ferry.change_id_seq s;
  select * into v_prev from ferry.ticks t order by t.tick desc limit 1;
  if not p_force and v_last - v_prev.last_id < p_min_changes
     and not exists (select 1 from ferry.changes c
                      where c.xid >= pg_snapshot_xmax(v_prev.snap) and c.id <= v_prev.last_id)
     and not exists (select 1 from pg_snapshot_xip(v_prev.snap) x
                      where exists (select 1 from ferry.changes c where c.xid = x and c.id <= v_prev.last_id)) then
    return query select null::bigint, v_last, v_last - v_prev.last_id;
    return;
  end if;
  insert into ferry.ticks (tick, snap, last_id)
  values (v_prev.tick + 1, pg_current_snapshot(), v_last);
  return query select v_prev.tick + 1, v_last, v_last - v_prev.last_id;
end $$;
