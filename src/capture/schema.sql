CREATE SCHEMA ferry;

CREATE FUNCTION ferry.capture_function_name(p_tbl regclass) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ select format('ferry.%I', 'capture_' || p_tbl::oid) $$;

CREATE FUNCTION ferry.capture_source(p_tbl regclass) RETURNS text
    LANGUAGE plpgsql STABLE
    AS $_$
declare
  t ferry.tracked;
  v_slot int;
  v_target text;
  v_newkey text;
  v_oldkey text;
  v_oldobj text;
  v_jtext text;
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
  -- one jsonb_build_object per column (no 100-argument limit), over json/jsonb and their domains
  select string_agg(format('jsonb_build_object(%L, %s)', a.attname,
                           case when b.base = 'json'::regtype
                                then format('NEW.%I::text', a.attname)
                                else format('case when jsonb_typeof(NEW.%I::jsonb) = %L then %L end', a.attname, 'null', 'null') end),
                    ' || ' order by a.attnum)
    into v_jtext
    from pg_attribute a
    cross join lateral (
      with recursive d(oid, typtype, typbasetype) as (
        select ty.oid, ty.typtype, ty.typbasetype from pg_type ty where ty.oid = a.atttypid
        union all
        select ty.oid, ty.typtype, ty.typbasetype from pg_type ty join d on ty.oid = d.typbasetype where d.typtype = 'd')
      select d.oid::regtype as base from d where d.typtype <> 'd') b
   where a.attrelid = p_tbl and a.attnum > 0 and not a.attisdropped
     and b.base in ('json'::regtype, 'jsonb'::regtype);
  v_jtext := case when v_jtext is null then 'null'
                  else format('nullif(jsonb_strip_nulls(%s), %L)', v_jtext, '{}') end;
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
      insert into %1$s (tbl, op, row, old, json_text) values (%3$s, 'U', to_jsonb(NEW), jsonb_build_object(%6$s), %7$s);
    else
      insert into %1$s (tbl, op, row, json_text) values (%3$s, 'U', to_jsonb(NEW), %7$s);
    end if;
  elsif TG_OP = 'INSERT' then
    insert into %1$s (tbl, op, row, json_text) values (%3$s, 'I', to_jsonb(NEW), %7$s);
  elsif TG_OP = 'DELETE' then
    insert into %1$s (tbl, op, row) values (%3$s, 'D', jsonb_build_object(%6$s));
  else
    insert into %1$s (tbl, op) values (%3$s, 'T');
  end if;
  return null;
end
$body$, v_target, ferry.lock_class(), p_tbl::oid, v_newkey, v_oldkey, v_oldobj, v_jtext);
end $_$;

CREATE FUNCTION ferry.drop_capture_triggers(p_tbl regclass) RETURNS void
    LANGUAGE plpgsql
    AS $$
declare
  r record;
begin
  for r in select tgname from pg_trigger where tgrelid = p_tbl and tgname in ('ferry_capture', 'ferry_capture_truncate') loop
    execute format('drop trigger %I on %s', r.tgname, p_tbl);
  end loop;
end $$;

CREATE FUNCTION ferry.install_capture(p_tbl regclass) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
  execute format('create or replace function %s() returns trigger language plpgsql as %L',
                 ferry.capture_function_name(p_tbl), ferry.capture_source(p_tbl));
end $$;

CREATE FUNCTION ferry.lock_class() RETURNS integer
    LANGUAGE sql IMMUTABLE
    AS $$select 1179800153$$;

CREATE FUNCTION ferry.prune(p_lock_timeout text DEFAULT '200ms'::text) RETURNS integer[]
    LANGUAGE plpgsql
    AS $_$
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
end $_$;

CREATE FUNCTION ferry.rotate() RETURNS boolean
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION ferry.tick(p_force boolean DEFAULT false, p_min_changes bigint DEFAULT 1) RETURNS TABLE(tick bigint, last_id bigint, pending bigint)
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION ferry.track(p_tbl regclass, p_key text[] DEFAULT NULL::text[]) RETURNS text
    LANGUAGE plpgsql
    AS $$
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

CREATE FUNCTION ferry.untrack(p_tbl regclass) RETURNS text
    LANGUAGE plpgsql
    AS $$
begin
  perform ferry.drop_capture_triggers(p_tbl);
  -- the row stays (inactive): changes already captured still need its name and key to be sent
  update ferry.tracked set active = false where tbl = p_tbl;
  return p_tbl::text;
end $$;

CREATE TABLE ferry.applied (
    origin text NOT NULL,
    pos bigint DEFAULT 0 NOT NULL,
    tick bigint,
    transport_offset text,
    source_at timestamp with time zone,
    applied_at timestamp with time zone,
    seen_pos bigint DEFAULT 0 NOT NULL,
    seen_at timestamp with time zone,
    epoch bigint DEFAULT 0 NOT NULL,
    status text DEFAULT 'running'::text NOT NULL,
    error text,
    error_kind text,
    error_pos bigint,
    error_at timestamp with time zone,
    CONSTRAINT applied_status_check CHECK ((status = ANY (ARRAY['running'::text, 'stopped'::text])))
);

CREATE SEQUENCE ferry.change_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

CREATE TABLE ferry.changes (
    id bigint DEFAULT nextval('ferry.change_id_seq'::regclass) NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    tbl oid NOT NULL,
    op "char" NOT NULL,
    "row" jsonb,
    old jsonb,
    json_text jsonb
)
WITH (autovacuum_enabled='false');

CREATE TABLE ferry.changes_0 (
)
INHERITS (ferry.changes)
WITH (fillfactor='100', autovacuum_enabled='false');

CREATE TABLE ferry.changes_1 (
)
INHERITS (ferry.changes)
WITH (fillfactor='100', autovacuum_enabled='false');

CREATE TABLE ferry.changes_2 (
)
INHERITS (ferry.changes)
WITH (fillfactor='100', autovacuum_enabled='false');

CREATE TABLE ferry.functions (
    signature text NOT NULL,
    body_md5 text NOT NULL,
    build text NOT NULL,
    installed_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE ferry.inbox (
    origin text NOT NULL,
    max_pos bigint NOT NULL,
    body text NOT NULL,
    received_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE ferry.migrations (
    id integer NOT NULL,
    name text NOT NULL,
    applied_at timestamp with time zone DEFAULT now() NOT NULL
);

CREATE TABLE ferry.skips (
    origin text NOT NULL,
    pos bigint NOT NULL,
    reason text,
    skipped_by text DEFAULT CURRENT_USER NOT NULL,
    requested_at timestamp with time zone DEFAULT now() NOT NULL,
    applied_at timestamp with time zone,
    change jsonb
);

CREATE TABLE ferry.state (
    singleton boolean DEFAULT true NOT NULL,
    slot integer DEFAULT 0 NOT NULL,
    rotated_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    rotated_at_id bigint DEFAULT 0 NOT NULL,
    forwarder_epoch bigint DEFAULT 0 NOT NULL,
    CONSTRAINT state_singleton_check CHECK (singleton)
);

CREATE TABLE ferry.ticks (
    tick bigint NOT NULL,
    snap pg_snapshot NOT NULL,
    last_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    first_pos bigint,
    cnt bigint,
    epoch bigint,
    published_at timestamp with time zone
);

CREATE TABLE ferry.tracked (
    tbl regclass NOT NULL,
    schema_name text NOT NULL,
    table_name text NOT NULL,
    key_cols text[] NOT NULL,
    key_source text NOT NULL,
    active boolean DEFAULT true NOT NULL,
    tracked_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT tracked_key_source_check CHECK ((key_source = ANY (ARRAY['primary key'::text, 'explicit'::text])))
);

ALTER TABLE ONLY ferry.changes_0 ALTER COLUMN id SET DEFAULT nextval('ferry.change_id_seq'::regclass);

ALTER TABLE ONLY ferry.changes_0 ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

ALTER TABLE ONLY ferry.changes_1 ALTER COLUMN id SET DEFAULT nextval('ferry.change_id_seq'::regclass);

ALTER TABLE ONLY ferry.changes_1 ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

ALTER TABLE ONLY ferry.changes_2 ALTER COLUMN id SET DEFAULT nextval('ferry.change_id_seq'::regclass);

ALTER TABLE ONLY ferry.changes_2 ALTER COLUMN xid SET DEFAULT pg_current_xact_id();

ALTER TABLE ONLY ferry.applied
    ADD CONSTRAINT applied_pkey PRIMARY KEY (origin);

ALTER TABLE ONLY ferry.functions
    ADD CONSTRAINT functions_pkey PRIMARY KEY (signature);

ALTER TABLE ONLY ferry.migrations
    ADD CONSTRAINT migrations_pkey PRIMARY KEY (id);

ALTER TABLE ONLY ferry.skips
    ADD CONSTRAINT skips_pkey PRIMARY KEY (origin, pos);

ALTER TABLE ONLY ferry.state
    ADD CONSTRAINT state_pkey PRIMARY KEY (singleton);

ALTER TABLE ONLY ferry.ticks
    ADD CONSTRAINT ticks_pkey PRIMARY KEY (tick);

ALTER TABLE ONLY ferry.tracked
    ADD CONSTRAINT tracked_pkey PRIMARY KEY (tbl);

CREATE INDEX changes_0_xid ON ferry.changes_0 USING btree (xid);

CREATE INDEX changes_1_xid ON ferry.changes_1 USING btree (xid);

CREATE INDEX changes_2_xid ON ferry.changes_2 USING btree (xid);

CREATE INDEX inbox_origin_pos ON ferry.inbox USING btree (origin, max_pos);
