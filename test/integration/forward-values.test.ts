// Values must arrive exactly: the row image on the wire is PostgreSQL's own output of the row
// (row_to_json), digit for digit, whatever the writer's session settings; what the image cannot
// say (the JSON null of json and jsonb columns, an array's bounds) travels as exact text beside it.
import { Client } from 'pg';
import { stringifyExact } from '../../src/protocol/json';
import { dropDatabase, freshDatabase, sql } from '../support/db';
import { byPos, prepareOrigin, readBack, startForwarder, testConfig, TransportKind } from '../support/origin';
import { AWKWARD, VALUE_ROWS, VALUES_DDL, WRITER_SETTINGS } from '../support/values';

describe.each<TransportKind>(['kafka', 'sqs'])('value round trip over %s', (kind) => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase('a');
    await prepareOrigin(url, VALUES_DDL, [AWKWARD]);
  });
  afterAll(() => dropDatabase(url));

  it('every type, NULL, unicode and quotes arrive exactly, in tables and columns with awkward names, whatever the writer\'s settings', async () => {
    await sql(url, `${WRITER_SETTINGS} insert into ${AWKWARD} values ${VALUE_ROWS.join(',')}`);
    const cfg = testConfig(url, kind);
    const fwd = startForwarder(cfg);
    try {
      const got = await readBack(cfg, (r) => byPos(r.changes).size >= VALUE_ROWS.length);
      const changes = [...byPos(got.changes).values()];
      expect(changes.map((c) => c.table)).toEqual(Array(VALUE_ROWS.length).fill('"Odd Schema"."Weird ""Table"".Name"'));
      // PostgreSQL's own output of each row, in a session with the settings capture pins (and the
      // writer's time zone: a timestamptz travels as the same instant, with the writer's offset)
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        await c.query("set extra_float_digits = 3; set intervalstyle = postgres; set lc_monetary = 'C'; set timezone = 'Asia/Kolkata'");
        for (const ch of changes) {
          const k = Number((ch.key as Record<string, unknown>)['Key Col']);
          const r = await c.query<{ img: string; j: string | null; jb: string | null; barr: string | null }>(
            `select row_to_json(t)::text as img, t.j::text as j, t.jb::text as jb, t.barr::text as barr from ${AWKWARD} t where "Key Col" = $1`,
            [k],
          );
          const src = r.rows[0];
          expect([k, ch.rowText]).toEqual([k, src.img]);
          // beside the image: the JSON null of json and jsonb, and an array whose bounds are not 1
          const want: Record<string, string> = {};
          if (src.j === 'null') want.j = 'null';
          if (src.jb === 'null') want.jb = 'null';
          if (src.barr?.startsWith('[')) want.barr = src.barr;
          expect([k, ch.jsonText ?? {}]).toEqual([k, want]);
        }
      } finally {
        await c.end();
      }
      const byKey = new Map(changes.map((ch) => [Number((ch.key as Record<string, unknown>)['Key Col']), ch]));
      // the big numbers were not squeezed through a double on the way
      expect(stringifyExact(byKey.get(1)!.row!.n)).toBe('12345678901234567890.123456789012345678');
      expect(stringifyExact(byKey.get(1)!.row!.big)).toBe('9223372036854775807');
      // written with extra_float_digits = 0 and IntervalStyle = sql_standard, still exact
      expect(byKey.get(6)!.rowText).toContain('"f8":0.30000000000000004');
      expect(byKey.get(6)!.rowText).toContain('"f4":-0');
      expect(byKey.get(6)!.rowText).toContain('"iv":"-1 days -02:00:00"');
      // json text as written, repeated keys and all
      expect(byKey.get(5)!.rowText).toContain('"j":{ "b" : 1,"a":[ 1.50 ],  "a" : "again" }');
      expect(byKey.get(1)!.jsonText).toEqual({ barr: '[0:2]={1,2,3}' });
    } finally {
      await fwd.stop();
    }
  });
});
