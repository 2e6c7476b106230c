// Values must round-trip exactly: what arrives, handed back to PostgreSQL the way an applier does
// (jsonb_populate_record), must equal the source row column by column; json and jsonb values the
// image cannot say (json text as written, the JSON null) travel as text beside it.
import { Client } from 'pg';
import { stringifyExact } from '../../src/protocol/json';
import { dropDatabase, freshDatabase, sql } from '../support/db';
import { byPos, prepareOrigin, readBack, startForwarder, testConfig, TransportKind } from '../support/origin';
import { AWKWARD, VALUE_ROWS, VALUES_DDL } from '../support/values';

describe.each<TransportKind>(['kafka', 'sqs'])('value round trip over %s', (kind) => {
  let url: string;
  beforeAll(async () => {
    url = await freshDatabase('a');
    await prepareOrigin(url, VALUES_DDL, [AWKWARD]);
  });
  afterAll(() => dropDatabase(url));

  it('every type, NULL, unicode and quotes arrive exactly, in tables and columns with awkward names', async () => {
    await sql(url, `insert into ${AWKWARD} values ${VALUE_ROWS.join(',')}`);
    const cfg = testConfig(url, kind);
    const fwd = startForwarder(cfg);
    try {
      const got = await readBack(cfg, (r) => byPos(r.changes).size >= VALUE_ROWS.length);
      const changes = [...byPos(got.changes).values()];
      expect(changes.map((c) => c.table)).toEqual(Array(VALUE_ROWS.length).fill('"Odd Schema"."Weird ""Table"".Name"'));
      const c = new Client({ connectionString: url });
      await c.connect();
      try {
        for (const ch of changes) {
          // equal as whole records, compared by PostgreSQL itself (so 0.10 vs 0.1 or a lost digit
          // fails); j and jb are compared as text below, since an applier takes them from jsonText
          const r = await c.query(
            `select jsonb_populate_record(t, '{"j": null, "jb": null}')::text as src, t.j::text as j, t.jb::text as jb,
                    jsonb_populate_record(null::${AWKWARD}, $1::jsonb - 'j' - 'jb')::text as arrived,
                    ($1::jsonb -> 'jb')::text = coalesce(t.jb::text, 'null') as jb_in_image
               from ${AWKWARD} t where "Key Col" = $2`,
            [stringifyExact(ch.row), Number((ch.key as Record<string, unknown>)['Key Col'])],
          );
          const src = r.rows[0] as { src: string; j: string | null; jb: string | null; arrived: string; jb_in_image: boolean };
          // json: its text exactly as written, whenever it is not SQL NULL
          expect([ch.pos, ch.jsonText?.j ?? null]).toEqual([ch.pos, src.j]);
          // jsonb: in the image (normalised, as jsonb keeps it), plus the text only for the JSON null
          expect([ch.pos, ch.jsonText?.jb ?? null]).toEqual([ch.pos, src.jb === 'null' ? 'null' : null]);
          expect([ch.pos, src.jb_in_image]).toEqual([ch.pos, true]);
          expect(src.arrived).toBe(src.src);
        }
      } finally {
        await c.end();
      }
      // the big numbers were not squeezed through a double on the way
      const first = changes[0].row!;
      expect(stringifyExact(first.n)).toBe('12345678901234567890.123456789012345678');
      expect(stringifyExact(first.big)).toBe('9223372036854775807');
    } finally {
      await fwd.stop();
    }
  });
});
