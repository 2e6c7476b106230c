-- This DC's hybrid logical clock (DESIGN.md §6). Its floor is the sequence ferry.clock (milliseconds),
-- which capture stamps on every change. It moves only forward and only here, one caller at a time
-- (an advisory lock that nothing else takes), so no two reads of it by causally ordered writes can
-- go backwards: the floor a write reads is never below the one an earlier write of the same row read.

-- This DC's wall clock in milliseconds, with the offset a test may inject (ferry.state).
create or replace function ferry.wall_ms() returns bigint
language sql volatile as $$
  select (extract(epoch from clock_timestamp()) * 1000)::bigint + (select clock_offset_ms from ferry.state)
$$;

-- Moves the floor forward to p_ms if it is behind; returns the floor. Called by a writer that finds
-- the floor more than 10 ms behind its wall clock, and by the applier (past every remote version it
-- applies, before it commits).
create or replace function ferry.advance_clock(p_ms bigint) returns bigint
language plpgsql as $$
declare
  v bigint;
begin
  perform pg_advisory_lock(ferry.lock_class(), 3);
  begin
    v := pg_sequence_last_value('ferry.clock');
    if v < p_ms then
      perform setval('ferry.clock', p_ms);
      v := p_ms;
    end if;
  exception when others then
    perform pg_advisory_unlock(ferry.lock_class(), 3);
    raise;
  end;
  perform pg_advisory_unlock(ferry.lock_class(), 3);
  return v;
end $$;

-- The larger of two version vectors, origin by origin ({dc: position}): vectors only grow, so a
-- batch published twice (an older vector arriving late) cannot move one back.
create or replace function ferry.max_vector(a jsonb, b jsonb) returns jsonb
language sql immutable as $$
  select coalesce(jsonb_object_agg(k, greatest(coalesce((a ->> k)::bigint, 0), coalesce((b ->> k)::bigint, 0))), '{}')
    from (select jsonb_object_keys(coalesce(a, '{}')) as k union select jsonb_object_keys(coalesce(b, '{}'))) ks
$$;

-- A row's xmin (32 bits) as the xid8 it stands for. Every xid the statement can see as committed is
-- below its snapshot's xmax (the next xid to be assigned when the snapshot was taken), and within
-- 2^31 of it: the epoch is the xmax's, or the one before when the xid is at or above the xmax's low
-- 32 bits (it was assigned before the counter wrapped). Not this transaction's own xid: a
-- transaction that began before the row's writer and reads it once that writer has committed (READ
-- COMMITTED) has a smaller xid than the xmin, which was then put in the epoch before and matched no
-- change (the applier took a newer local write for an unversioned row, and let an older remote
-- change overwrite it). Nor does it assign an xid to a transaction that only reads.
-- Both forms are one expression without FROM, so PostgreSQL inlines them into the calling query (a
-- body with a FROM is run as a function call per row: 5 µs a key in the applier's local-state read).
-- A statement that converts many xmins takes the xmax once and gives it to the two-argument form.
create or replace function ferry.xid8_of(x xid, xmax bigint) returns xid8
language sql immutable as $$
  select ((((xmax >> 32) - case when x::text::bigint >= (xmax & 4294967295) then 1 else 0 end) << 32) | x::text::bigint)::text::xid8
$$;
create or replace function ferry.xid8_of(x xid) returns xid8
language sql stable as $$
  select ferry.xid8_of(x, pg_snapshot_xmax(pg_current_snapshot())::text::bigint)
$$;
