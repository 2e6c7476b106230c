import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type Row = Record<string, string | number>;

/** Prints the results as JSON and as a Markdown table, and keeps the JSON under .ferry/bench/. */
export function report(name: string, rows: Row[], notes: string[] = []): void {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const json = { bench: name, at: new Date().toISOString(), machine: machine(), rows, notes };
  console.log(JSON.stringify(json, null, 2));
  console.log(`\n### ${name}\n`);
  console.log(`| ${cols.join(' | ')} |`);
  console.log(`| ${cols.map(() => '---').join(' | ')} |`);
  for (const r of rows) console.log(`| ${cols.map((c) => r[c] ?? '').join(' | ')} |`);
  for (const n of notes) console.log(`\n${n}`);
  const dir = path.join(process.cwd(), '.ferry', 'bench');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify(json, null, 2));
}

function machine() {
  return { cpus: os.cpus().length, memGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
}

export const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);
