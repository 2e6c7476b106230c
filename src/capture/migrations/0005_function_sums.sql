-- What `ferry init` installed from src/capture/functions/: each function's signature and the md5 of
-- its body, and which build of those files it came from. Ferry refuses to run when the build
-- differs or a body was changed afterwards (by hand, or by another Ferry release).
create table ferry.functions (
  signature text primary key,
  body_md5 text not null,
  build text not null,
  installed_at timestamptz not null default now()
);
