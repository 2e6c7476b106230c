-- Read-your-writes across DCs (DESIGN.md §7). At the origin, inside the write transaction:
--   select ferry.token();                       -- 'dc-a:774421' (origin : transaction id)
-- in another DC:
--   select ferry.wait_for('dc-a:774421', 5000); -- true once that transaction is applied here
-- The answer comes from ferry.applied.snap: the snapshot of the origin's last tick whose whole
-- batch is applied here; a transaction visible in it is applied (or wrote nothing to send).

create or replace function ferry.token() returns text
language sql volatile as $$
  select (select origin from ferry.state) || ':' || pg_current_xact_id()::text
$$;

-- true when the token's transaction is applied here (or is this DC's own), false after p_timeout_ms
-- (with a NOTICE that says how far this DC is). Polls: needs READ COMMITTED, so each look sees
-- what the applier committed since.
create or replace function ferry.wait_for(p_token text, p_timeout_ms int default 10000) returns boolean
language plpgsql volatile as $$
declare
  v_origin text;
  v_xid xid8;
  v_self text;
  v_end timestamptz := clock_timestamp() + make_interval(secs => greatest(p_timeout_ms, 0) / 1000.0);
  v_nap float8 := 0.001;
  a record;
begin
  if p_token is null or p_token !~ '^[a-z0-9][a-z0-9_-]*:[0-9]+$' then
    raise exception 'ferry: % is not a read-your-writes token', quote_nullable(p_token)
      using hint = 'Take one with select ferry.token() inside the write transaction at the origin; it reads dc:xid.';
  end if;
  v_origin := split_part(p_token, ':', 1);
  v_xid := split_part(p_token, ':', 2)::xid8;
  select origin into v_self from ferry.state;
  if v_origin = v_self then
    return true; -- this DC's own write: visible here once committed
  end if;
  if current_setting('transaction_isolation') <> 'read committed' then
    raise exception 'ferry: ferry.wait_for needs READ COMMITTED (under % it would never see the applier''s commits)', current_setting('transaction_isolation');
  end if;
  loop
    select snap, pos, status, error into a from ferry.applied where origin = v_origin;
    if found and a.snap is not null and pg_visible_in_snapshot(v_xid, a.snap) then
      return true;
    end if;
    if clock_timestamp() >= v_end then
      if not found then
        raise notice 'ferry.wait_for: % not applied within % ms: this DC (%) has applied nothing from % (is it among its peers, and does ferry run?)', p_token, p_timeout_ms, v_self, v_origin;
      else
        raise notice 'ferry.wait_for: % not applied within % ms: this DC (%) has applied % up to position % (stream %)', p_token, p_timeout_ms, v_self, v_origin, a.pos,
          a.status || coalesce(': ' || a.error, '');
      end if;
      return false;
    end if;
    perform pg_sleep(least(v_nap, greatest(extract(epoch from v_end - clock_timestamp()), 0)));
    v_nap := least(v_nap * 2, 0.01);
  end loop;
end $$;
