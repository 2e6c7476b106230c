// A source transaction far larger than the applier holds in memory (DestinationTransaction's
// keepLimit): it is written as it streams in, and when its destination transaction fails near the
// end it is read again from the transport and applied whole, once.
import { sql } from '../support/db';
import { createMesh, Mesh } from '../support/mesh';

const DDL = `create table public.big (id int primary key, v text not null);`;

describe('a source transaction larger than the applier holds', () => {
  let mesh: Mesh;
  afterEach(async () => mesh?.close());

  it('fails once near its end at the destination, is read again and applied whole, exactly once', async () => {
    // groupChanges 100: the applier keeps at most 20 000 changes of one transaction to give back
    mesh = await createMesh('kafka', DDL, ['public.big'], ['a', 'b'], { apply: { gapTimeoutMs: 5000, groupChanges: 100 } });
    // dc-b refuses row 29 000 the first time with a serialization failure (retriable)
    await sql(
      mesh.url['dc-b'],
      `create sequence fail_once;
       create function refuse_once() returns trigger language plpgsql as $$
       begin
         if NEW.id = 29000 and nextval('fail_once') = 1 then
           raise exception 'refused once' using errcode = '40001';
         end if;
         return NEW;
       end $$;
       create trigger refuse_once before insert on public.big for each row execute function refuse_once();`,
    );
    await sql(mesh.url['dc-a'], `insert into big select g, 'row ' || g from generate_series(1, 30000) g`);
    for (const dc of mesh.dcs) mesh.start(dc);
    await mesh.drained(180_000);
    const [b] = await sql<{ n: string; s: string }>(mesh.url['dc-b'], `select count(*) as n, sum(id) as s from big where v = 'row ' || id`);
    expect(b).toEqual({ n: '30000', s: String((30000 * 30001) / 2) });
    // it did fail once, and went again
    expect((await sql<{ n: string }>(mesh.url['dc-b'], `select last_value as n from fail_once`))[0].n).toBe('2');
    expect(await sql(mesh.url['dc-b'], `select origin, error from ferry.applied where status <> 'running'`)).toEqual([]);
  }, 240_000);
});
