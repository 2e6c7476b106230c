-- Advisory lock keys (two-int form, class 1179800153 = 'FRRY'), the same as src/common/locks.ts:
--   1: held by an idle forwarder; a writer that cannot take it shared wakes it with NOTIFY
--   2: forwarder leadership for this origin
--   3: advances of this DC's clock floor (ferry.advance_clock)
create or replace function ferry.lock_class() returns int language sql immutable as 'select 1179800153';
