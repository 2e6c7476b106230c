import { isSafeNumber, LosslessNumber, parse, stringify } from 'lossless-json';

/**
 * JSON that keeps every number exactly as written. A row image holds numeric, bigint and numbers
 * inside json columns; JSON.parse would round 12345678901234567890 and turn 0.10 into 0.1. Numbers
 * that survive a trip through a double unchanged become plain numbers; the rest stay LosslessNumber
 * and are written back digit for digit.
 */
function parseNumber(text: string): number | LosslessNumber {
  return isSafeNumber(text) && String(Number(text)) === text ? Number(text) : new LosslessNumber(text);
}

export function parseExact(text: string): unknown {
  return parse(text, null, parseNumber);
}

export function stringifyExact(value: unknown): string {
  const s = stringify(value);
  if (s === undefined) throw new TypeError('value cannot be written as JSON');
  return s;
}

export { LosslessNumber };
