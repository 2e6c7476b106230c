/**
 * Reads the members of a JSON object's text without parsing its values: each member's name and the
 * exact text of its value. Row images travel as PostgreSQL's own jsonb text, and the forwarder and
 * applier only need a few members of each (the key columns, the column list): slicing them keeps
 * every value exactly as PostgreSQL wrote it and costs far less than parsing whole rows.
 */
export function members(text: string): [string, string][] {
  const out: [string, string][] = [];
  forEachMember(text, (name, from, to) => out.push([name, text.slice(from, to)]));
  return out;
}

/** Calls fn with each member's name and where its value's text starts and ends. */
export function forEachMember(text: string, fn: (name: string, from: number, to: number) => void): void {
  let i = skipWs(text, 0);
  if (text[i] !== '{') throw new SyntaxError(`not a JSON object: ${text.slice(0, 40)}`);
  i = skipWs(text, i + 1);
  if (text[i] === '}') return;
  for (;;) {
    if (text[i] !== '"') throw new SyntaxError(`expected a member name at ${i}: ${text.slice(i, i + 40)}`);
    const nameEnd = stringEnd(text, i);
    const raw = text.slice(i + 1, nameEnd - 1);
    const name = raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw;
    i = skipWs(text, nameEnd);
    if (text[i] !== ':') throw new SyntaxError(`expected ':' at ${i}`);
    i = skipWs(text, i + 1);
    const valueEnd = valueEndAt(text, i);
    fn(name, i, valueEnd);
    i = skipWs(text, valueEnd);
    if (text[i] === ',') {
      i = skipWs(text, i + 1);
      continue;
    }
    if (text[i] === '}') return;
    throw new SyntaxError(`expected ',' or '}' at ${i}`);
  }
}

/** The member names of a JSON object's text, in order. */
export function memberNames(text: string): string[] {
  return members(text).map(([k]) => k);
}

/** The member names joined by NUL: equal for two images exactly when they carry the same columns. */
export function memberSignature(text: string): string {
  let sig = '';
  let first = true;
  forEachMember(text, (name) => {
    sig = first ? name : `${sig}\0${name}`;
    first = false;
  });
  return sig;
}

/**
 * A JSON object of just these members, in this order, their values as written: the key of a row
 * image. A member that is missing is an error (a key column must be in the image).
 */
export function pickMembers(text: string, names: string[]): string {
  const all = new Map(members(text));
  const parts: string[] = [];
  for (const n of names) {
    const v = all.get(n);
    if (v === undefined) throw new SyntaxError(`member ${JSON.stringify(n)} is not in the row image`);
    parts.push(`${JSON.stringify(n)}: ${v}`);
  }
  return `{${parts.join(', ')}}`;
}

/**
 * As pickMembers, each member under the first of its names the object has (a column known by
 * several names, as it was renamed): written under that name.
 */
export function pickMembersAny(text: string, choices: string[][]): string {
  const all = new Map(members(text));
  const parts: string[] = [];
  for (const names of choices) {
    const n = names.find((x) => all.has(x));
    if (n === undefined) throw new SyntaxError(`member ${names.map((x) => JSON.stringify(x)).join(' (or ')}${names.length > 1 ? ')' : ''} is not in the row image`);
    parts.push(`${JSON.stringify(n)}: ${all.get(n)}`);
  }
  return `{${parts.join(', ')}}`;
}

/**
 * The object with members renamed (old name → new name; null: left out), written as keys are
 * ("name": value, …); the text itself when no member has an old name.
 */
export function renameMembers(text: string, names: ReadonlyMap<string, string | null>): string {
  const all = members(text);
  if (!all.some(([n]) => names.has(n))) return text;
  const kept = all.flatMap(([n, v]): [string, string][] => {
    const to = names.has(n) ? names.get(n) : n;
    return to ? [[to, v]] : [];
  });
  return `{${kept.map(([n, v]) => `${JSON.stringify(n)}: ${v}`).join(', ')}}`;
}

function skipWs(s: string, i: number): number {
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 10 && c !== 13 && c !== 9) break;
    i++;
  }
  return i;
}

/** s[i] is '"': the index after the closing quote. */
function stringEnd(s: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const q = s.indexOf('"', j);
    if (q < 0) throw new SyntaxError('unterminated string');
    // escaped when preceded by an odd number of backslashes
    let b = q - 1;
    while (s.charCodeAt(b) === 92) b--;
    if ((q - 1 - b) % 2 === 0) return q + 1;
    j = q + 1;
  }
}

/** The index after the value that starts at i. */
function valueEndAt(s: string, i: number): number {
  const c = s[i];
  if (c === '"') return stringEnd(s, i);
  if (c === '{' || c === '[') {
    let depth = 0;
    for (let j = i; j < s.length; j++) {
      const d = s.charCodeAt(j);
      if (d === 34) j = stringEnd(s, j) - 1;
      else if (d === 123 || d === 91) depth++;
      else if (d === 125 || d === 93) {
        if (--depth === 0) return j + 1;
      }
    }
    throw new SyntaxError('unterminated object or array');
  }
  let j = i;
  while (j < s.length && s[j] !== ',' && s[j] !== '}' && s[j] !== ']' && s[j] !== ' ' && s[j] !== '\n') j++;
  if (j === i) throw new SyntaxError(`expected a value at ${i}`);
  return j;
}

/**
 * The same object text with these members' values replaced by the given JSON texts (members not
 * present are added at the end): a row image with some columns swapped for their exact text,
 * without parsing the rest (a json column may hold repeated keys, which a parser would refuse).
 */
export function replaceMembers(text: string, values: Record<string, string>): string {
  const todo = new Map(Object.entries(values));
  let out = '';
  let at = 0;
  forEachMember(text, (name, from, to) => {
    const v = todo.get(name);
    if (v === undefined) return;
    out += text.slice(at, from) + v;
    at = to;
    todo.delete(name);
  });
  out += text.slice(at);
  if (!todo.size) return out;
  const close = out.lastIndexOf('}');
  const extra = [...todo].map(([k, v]) => `${JSON.stringify(k)}: ${v}`).join(', ');
  return `${out.slice(0, close).trimEnd()}${/\{\s*$/.test(out.slice(0, close)) ? '' : ', '}${extra}}`;
}
