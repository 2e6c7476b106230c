// A table of awkward names and every kind of value, shared by the forward-side (wire) and the
// end-to-end (destination row) round-trip tests.
export const AWKWARD = `"Odd Schema"."Weird ""Table"".Name"`;

export const VALUES_DDL = `
create schema "Odd Schema";
create table ${AWKWARD} (
  "Key Col" bigint primary key,
  "select" text,
  "MixedCase" int,
  "quote""col" text,
  n numeric,
  big bigint,
  f8 float8,
  b bytea,
  ts timestamptz,
  tsl timestamp,
  j json,
  jb jsonb,
  arr int[],
  tarr text[],
  narr numeric[],
  u uuid,
  iv interval,
  bo boolean,
  d date
);`;

export const VALUE_ROWS = [
  `(1, 'plain', 1, 'it''s "quoted"', 12345678901234567890.123456789012345678, 9223372036854775807, 1.5e300,
    '\\x00ff10'::bytea, '2026-11-22 02:40:33.627123+05:30', '2026-11-22 02:40:33.627123',
    '{"k": [1, 2.50, "x"], "big": 123456789012345678901234567890}', '{"nested": {"n": 0.10, "s": "ü"}}',
    '{1,NULL,3}', '{"a,b","c\\"d",NULL}', '{1.10,2.000}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:03:04.5', true, '2026-02-28')`,
  `(2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)`,
  `(3, 'unicode 😀 ✓ Ω \t tab \n newline \\ backslash', -2147483648, '', 'NaN', -9223372036854775808, '-Infinity',
    ''::bytea, 'infinity', '-infinity', '"null"', '[]', '{}', '{}', '{}', '00000000-0000-0000-0000-000000000000', '-1 mons', false, '0001-01-01 BC')`,
  // the JSON literal null (not SQL NULL) in both json types; json text kept as written: spaces,
  // key order and a repeated key, which jsonb would normalise away
  `(4, 'json null', 4, null, 0, 0, 0, null, null, null, 'null', 'null', null, null, null, null, null, null, null)`,
  `(5, 'json as written', 5, null, 0, 0, 0, null, null, null, '{ "b" : 1,"a":[ 1.50 ],  "a" : "again" }', '[null, {"z": null}]', null, null, null, null, null, null, null)`,
];
