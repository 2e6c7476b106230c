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
  d date,
  f4 float4,
  m money,
  barr int[]
);`;

export const VALUE_ROWS = [
  `(1, 'plain', 1, 'it''s "quoted"', 12345678901234567890.123456789012345678, 9223372036854775807, 1.5e300,
    '\\x00ff10'::bytea, '2026-11-22 02:40:33.627123+05:30', '2026-11-22 02:40:33.627123',
    '{"k": [1, 2.50, "x"], "big": 123456789012345678901234567890}', '{"nested": {"n": 0.10, "s": "ü"}}',
    '{1,NULL,3}', '{"a,b","c\\"d",NULL}', '{1.10,2.000}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '1 day 02:03:04.5', true, '2026-02-28',
    0.1::float4, 1234.56, '[0:2]={1,2,3}')`,
  `(2, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)`,
  `(3, 'unicode 😀 ✓ Ω \t tab \n newline \\ backslash', -2147483648, '', 'NaN', -9223372036854775808, '-Infinity',
    ''::bytea, 'infinity', '-infinity', '"null"', '[]', '{}', '{}', '{}', '00000000-0000-0000-0000-000000000000', '-1 mons', false, '0001-01-01 BC',
    'NaN', -0.01, '[-1:-1][2:3]={{7,8}}')`,
  // the JSON literal null (not SQL NULL) in both json types; json text kept as written: spaces,
  // key order and a repeated key, which jsonb would normalise away
  `(4, 'json null', 4, null, 0, 0, 0, null, null, null, 'null', 'null', null, null, null, null, null, null, null, null, null, '{}')`,
  `(5, 'json as written', 5, null, 0, 0, 0, null, null, null, '{ "b" : 1,"a":[ 1.50 ],  "a" : "again" }', '[null, {"z": null}]', null, null, null, null, null, null, null, null, null, null)`,
  // values a writer's session settings would change, written under odd settings (see WRITER_SETTINGS):
  // 0.30000000000000004, a negative zero, -1 day -2 hours, and a money amount
  `(6, 'settings', 6, null, 0, 0, 0.30000000000000004, null, '2026-11-22 23:30:00+00', '2026-11-22 23:30:00', null, null, null, null, null, null,
    '-1 day -2 hours', null, '2026-01-02', '-0'::float4, 1234.56, '{1}')`,
];

/** Session settings that must not change what arrives (DESIGN.md §4): the test's writer uses them. */
export const WRITER_SETTINGS = `set extra_float_digits = 0; set intervalstyle = sql_standard; set datestyle = 'SQL, DMY'; set timezone = 'Asia/Kolkata'; set lc_monetary = 'C.utf8';`;
