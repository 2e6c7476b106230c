import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { uniq } from './db';
import { ROOT } from './services';

/**
 * Where the tests write the config files they hand to `ferry` (they hold database URLs with
 * passwords): one folder, emptied by the global setup at the start of every run, so a failed run's
 * files stay there to look at until the next one.
 */
export const TEST_FILES = path.join(ROOT, '.ferry', 'test-files');

/** Writes `text` to a new file (readable by its owner only) and returns its path. */
export function testFile(prefix: string, ext: string, text: string): string {
  mkdirSync(TEST_FILES, { recursive: true });
  const file = path.join(TEST_FILES, `${uniq(prefix)}.${ext}`);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}
