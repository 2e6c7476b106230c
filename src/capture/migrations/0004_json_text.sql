-- json and jsonb values the one-jsonb row image cannot carry exactly (a json column's text as
-- written, a jsonb column holding the JSON null): the capture trigger writes them here
-- (src/capture/functions/02_capture.sql) and the applier writes those columns from this text.
alter table ferry.changes add column json_text jsonb;
