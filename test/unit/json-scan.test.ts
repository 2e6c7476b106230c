import { parseExact, stringifyExact } from '../../src/protocol/json';
import { memberNames, members, pickMembers, replaceMembers } from '../../src/protocol/json-scan';

// PostgreSQL's jsonb output, as the capture trigger's row images are written
const ROW = '{"a": 1, "id": 12345678901234567890.10, "Key Col": "x, \\"y\\" }", "doc": {"k": [1, {"z": "]"}]}, "s": "\\\\", "n": null, "t": true, "e": -1.5e-7}';

describe('json-scan', () => {
  it('slices every member with its value exactly as written', () => {
    expect(members(ROW)).toEqual([
      ['a', '1'],
      ['id', '12345678901234567890.10'],
      ['Key Col', '"x, \\"y\\" }"'],
      ['doc', '{"k": [1, {"z": "]"}]}'],
      ['s', '"\\\\"'],
      ['n', 'null'],
      ['t', 'true'],
      ['e', '-1.5e-7'],
    ]);
    expect(memberNames('{}')).toEqual([]);
    expect(memberNames('{"we\\"ird": 1}')).toEqual(['we"ird']);
  });

  it('writes a key the same way whatever the member order or spacing of the image', () => {
    const k = pickMembers(ROW, ['id', 'Key Col']);
    expect(k).toBe('{"id": 12345678901234567890.10, "Key Col": "x, \\"y\\" }"}');
    expect(pickMembers('{"Key Col":"x, \\"y\\" }","id":12345678901234567890.10}', ['id', 'Key Col'])).toBe(k);
    expect(stringifyExact(parseExact(k))).toBe('{"id":12345678901234567890.10,"Key Col":"x, \\"y\\" }"}');
  });

  it('refuses what is not an object, and a key column missing from the image', () => {
    expect(() => members('[1]')).toThrow(/not a JSON object/);
    expect(() => members('{"a" 1}')).toThrow(/expected ':'/);
    expect(() => pickMembers(ROW, ['nope'])).toThrow(/"nope" is not in the row image/);
  });

  it('replaces members with exact text without parsing the rest (repeated keys and all)', () => {
    const row = '{"id":1,"j":{ "a":1, "a":2 },"jb":null,"arr":[1,2,3]}';
    expect(replaceMembers(row, { jb: '"null"', arr: '"[0:2]={1,2,3}"' })).toBe('{"id":1,"j":{ "a":1, "a":2 },"jb":"null","arr":"[0:2]={1,2,3}"}');
    expect(replaceMembers('{"id": 1}', { x: '"y"' })).toBe('{"id": 1, "x": "y"}');
    expect(replaceMembers('{}', { x: '1' })).toBe('{"x": 1}');
  });
});
