-- ferry.tick() was rewritten here (a writer open at the last tick whose xid was at or above that
-- snapshot's xmax was never ticked). Functions now live in src/capture/functions/ and every
-- `ferry init` installs them; this migration changed no table and is kept so that the numbering
-- of installed databases stays meaningful.
select 1;
