-- Advisory lock keys (two-int form, class 1179800153 = 'FRRY'), the same as src/common/locks.ts:
--   1: (no longer used: an idle forwarder once slept on it)
--   2: forwarder leadership for this origin
--   3: advances of this DC's clock floor (ferry.advance_clock)
--   4: making capture functions anew after application DDL (ferry.refresh_tracked)
create or replace function ferry.lock_class() returns int language sql immutable as 'select 1179800153';
