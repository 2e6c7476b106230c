-- An older release had no p_counters: the old signature would make calls ambiguous.
do $$
begin
  if to_regprocedure('ferry.track(regclass, text[])') is not null then
    drop function ferry.track(regclass, text[]);
  end if;
end $$;

-- Start capturing a table. p_key: explicit identity columns for a table without a primary key.
-- p_counters: columns merged as counters (each DC's share adds up) instead of last writer wins;
-- give the same in every DC.
create or replace function ferry.track(p_tbl regclass, p_key text[] default null, p_counters text[] default null) returns text
language plpgsql as $$
declare
  v_schema text;
  v_name text;
  v_key text[];
  v_source text;
  v_missing text;
  v_fn text;
  v_kind "char";
  v_persistence "char";
  v_partition boolean;
  v_pk text;
  r record;
begin
  if p_tbl::oid in (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'ferry') then
    raise exception 'ferry: cannot track Ferry''s own table %', p_tbl
      using hint = 'Ferry keeps its own tables itself in every DC; track your application''s tables.';
  end if;
  select n.nspname, c.relname, c.relkind, c.relpersistence, c.relispartition
    into v_schema, v_name, v_kind, v_persistence, v_partition
    from pg_class c join pg_namespace n on n.oid = c.relnamespace
   where c.oid = p_tbl;
  -- only a table holds rows of its own that every DC can keep
  if v_kind not in ('r', 'p') then
    raise exception 'ferry: % is a %, not a table: only tables can be tracked', p_tbl,
      case v_kind when 'v' then 'view' when 'm' then 'materialized view' when 'f' then 'foreign table'
                  when 'S' then 'sequence' when 'c' then 'composite type' when 'i' then 'index' else 'relation of kind ' || v_kind::text end
      using hint = 'Track the table(s) it reads from or stands for; each DC keeps its own views.';
  end if;
  if v_persistence = 't' then
    raise exception 'ferry: % is a temporary table: it lives only in one session of this DC, so there is nothing to keep in sync', p_tbl
      using hint = 'Track a permanent table.';
  end if;
  if v_persistence = 'u' then
    raise exception 'ferry: % is unlogged: after a crash PostgreSQL empties it here while the other DCs keep its rows, and nothing would say so', p_tbl
      using hint = format('Make it a logged table first: ALTER TABLE %s SET LOGGED; then track it.', p_tbl);
  end if;
  if v_partition then
    raise exception 'ferry: % is a partition of %: Ferry tracks a partitioned table as a whole', p_tbl,
      (select string_agg(i.inhparent::regclass::text, ', ') from pg_inherits i where i.inhrelid = p_tbl)
      using hint = 'Track the partitioned table: its rows, updates that move them between partitions and TRUNCATE of one partition all travel.';
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
  -- a key checked at commit lets one statement shift or swap keys (UPDATE t SET id = id + 1):
  -- the other DCs replay a transaction's changes one key at a time, and such a shift would meet
  -- keys still taken there and lose rows
  select c.conname into v_pk from pg_constraint c where c.conrelid = p_tbl and c.contype in ('p', 'u') and c.condeferrable
     and (select array_agg(a.attname::text order by a.attname) from pg_attribute a where a.attrelid = p_tbl and a.attnum = any(c.conkey))
         = (select array_agg(k order by k) from unnest(v_key) k)
   limit 1;
  if v_pk is not null then
    raise exception 'ferry: the key of % is DEFERRABLE (constraint %): one statement could then shift or swap keys, which the other DCs cannot replay one row at a time without losing rows', p_tbl, quote_ident(v_pk)
      using hint = format('Make it NOT DEFERRABLE: ALTER TABLE %s DROP CONSTRAINT %I, ADD PRIMARY KEY (%s); then track it.', p_tbl, v_pk,
                          (select string_agg(quote_ident(k), ', ') from unnest(v_key) k));
  end if;
  if v_source = 'explicit' then
    select string_agg(quote_ident(k), ', ') into v_missing
      from unnest(v_key) k join pg_attribute a on a.attrelid = p_tbl and a.attname = k
     where not a.attnotnull;
    if v_missing is not null then
      raise exception 'ferry: key column(s) % of % can be NULL, and a NULL names no row', v_missing, p_tbl
        using hint = format('ALTER TABLE %s ALTER COLUMN ... SET NOT NULL for each, or name other columns with --key.', p_tbl);
    end if;
    if not exists (select 1 from pg_index i
                    where i.indrelid = p_tbl and i.indisunique and i.indimmediate and i.indpred is null and i.indexprs is null
                      and (select bool_and(a.attname::text = any(v_key)) from pg_attribute a where a.attrelid = p_tbl and a.attnum = any(i.indkey))) then
      raise exception 'ferry: no unique index of % holds only the columns % given as its key, so two rows could share a key', p_tbl,
        (select string_agg(quote_ident(k), ', ') from unnest(v_key) k)
        using hint = format('CREATE UNIQUE INDEX ON %s (%s) (not deferrable, no WHERE), or name other columns with --key.', p_tbl,
                            (select string_agg(quote_ident(k), ', ') from unnest(v_key) k));
    end if;
  end if;

  select string_agg(quote_ident(k), ', ') into v_missing
    from unnest(coalesce(p_counters, '{}')) k
   where not exists (select 1 from pg_attribute a where a.attrelid = p_tbl and a.attname = k and a.attnum > 0 and not a.attisdropped
                       and a.atttypid in ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'numeric'::regtype))
      or k = any(v_key);
  if v_missing is not null then
    raise exception 'ferry: % cannot be counter column(s) of %: a counter is a smallint, integer, bigint or numeric column that is not part of the key', v_missing, p_tbl;
  end if;

  -- the key and counter columns by attribute number too: a rename keeps it (ferry.capture_names)
  insert into ferry.tracked (tbl, schema_name, table_name, key_cols, key_source, active, counters, key_attnums, counter_attnums)
  values (p_tbl, v_schema, v_name, v_key, v_source, true, coalesce(p_counters, '{}'),
          (select array_agg(a.attnum order by k.o) from unnest(v_key) with ordinality k(n, o)
             join pg_attribute a on a.attrelid = p_tbl and a.attname = k.n),
          (select coalesce(array_agg(a.attnum order by k.o), '{}') from unnest(coalesce(p_counters, '{}')) with ordinality k(n, o)
             join pg_attribute a on a.attrelid = p_tbl and a.attname = k.n))
  on conflict (tbl) do update set key_cols = excluded.key_cols, key_source = excluded.key_source,
                                  schema_name = excluded.schema_name, table_name = excluded.table_name, active = true,
                                  counters = excluded.counters, key_attnums = excluded.key_attnums,
                                  counter_attnums = excluded.counter_attnums;
  perform ferry.note_column_names(p_tbl);

  perform ferry.install_capture(p_tbl);
  v_fn := ferry.capture_function_name(p_tbl);
  perform ferry.drop_capture_triggers(p_tbl);
  execute format('create trigger ferry_capture after insert or update or delete on %s for each row execute function %s()', p_tbl, v_fn);
  execute format('create trigger ferry_capture_truncate after truncate on %s for each statement execute function %s()', p_tbl, v_fn);
  -- row triggers reach every partition (PostgreSQL clones them); statement triggers do not, and
  -- TRUNCATE of one partition must travel too. A partition attached later needs `ferry track` again.
  for r in select relid from pg_partition_tree(p_tbl) where relid <> p_tbl::oid loop
    execute format('create trigger ferry_capture_truncate after truncate on %s for each statement execute function %s()', r.relid, v_fn);
  end loop;
  return format('%I.%I', v_schema, v_name);
end $$;

create or replace function ferry.untrack(p_tbl regclass) returns text
language plpgsql as $$
begin
  perform ferry.drop_capture_triggers(p_tbl);
  -- the row stays (inactive): changes already captured still need its name and key to be sent
  update ferry.tracked set active = false where tbl = p_tbl;
  return p_tbl::text;
end $$;
