-- Destination side (DESIGN.md §3.4): what this DC has applied of each other origin. The row is
-- updated in the same transaction as the applied rows, which makes apply exactly-once in effect.
create table ferry.applied (
  origin text primary key,
  pos bigint not null default 0,            -- every change up to here is applied
  tick bigint,
  transport_offset text,                    -- Kafka offset of the last message wholly applied
  source_at timestamptz,                    -- when the batch of the last applied change was cut
  applied_at timestamptz,
  seen_pos bigint not null default 0,       -- highest position received (for lag)
  seen_at timestamptz,
  epoch bigint not null default 0,          -- bumped by every new applier leader (fencing)
  status text not null default 'running' check (status in ('running', 'stopped')),
  error text,
  error_kind text,                          -- 'gap' (waits and re-reads by itself) or 'error' (needs an operator)
  error_pos bigint,
  error_at timestamptz
);

-- Changes an operator chose to skip (`ferry skip`), with who, why and what: an audit trail.
create table ferry.skips (
  origin text not null,
  pos bigint not null,
  reason text,
  skipped_by text not null default current_user,
  requested_at timestamptz not null default now(),
  applied_at timestamptz,
  change jsonb,
  primary key (origin, pos)
);

-- Frames received but not yet applied, kept durably so the transport may forget them. SQS FIFO
-- delivers nothing more of an origin while any of its messages is unacknowledged: a source
-- transaction spread over more messages than one receive returns (or a gap) would stall.
-- Rows leave in the destination transaction that applies them.
create table ferry.inbox (
  origin text not null,
  max_pos bigint not null,
  body text not null,
  received_at timestamptz not null default now()
);
create index inbox_origin_pos on ferry.inbox (origin, max_pos);
