import { Command } from 'commander';
import { sharedKeySequences, sharedKeyWarning } from '../../capture/key-sequences';
import { track, untrack } from '../../capture/track';
import { context, database } from '../context';

export function trackCommand(): Command {
  return new Command('track')
    .description('start capturing writes to these tables (schema.table; search_path applies otherwise)')
    .argument('<tables...>')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .option('--key <cols>', 'columns that identify a row, for a table without a primary key (comma separated)')
    .option('--counter <cols>', 'columns merged as counters: every DC\'s additions count, none twice (comma separated; the same in every DC)')
    .action(async (tables: string[], opts: { config?: string; key?: string; counter?: string }) => {
      const { config } = context(opts);
      const list = (v?: string) => v?.split(',').map((s) => s.trim()).filter(Boolean);
      const db = await database(config);
      try {
        // every DC this one exchanges changes with, itself included
        const dcs = Math.max(2, new Set([config.origin, ...config.peers, ...config.destinations]).size);
        for (const t of tables) {
          const name = await track(db, t, list(opts.key), list(opts.counter));
          console.log(`tracking ${name}`);
          for (const s of await sharedKeySequences(db, name, dcs)) process.stderr.write(`ferry: ${sharedKeyWarning(name, s, dcs)}\n`);
        }
      } finally {
        await db.end();
      }
    });
}

export function untrackCommand(): Command {
  return new Command('untrack')
    .description('stop capturing writes to these tables (changes already captured are still sent)')
    .argument('<tables...>')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .action(async (tables: string[], opts: { config?: string }) => {
      const { config } = context(opts);
      const db = await database(config);
      try {
        for (const t of tables) console.log(`no longer tracking ${await untrack(db, t)}`);
      } finally {
        await db.end();
      }
    });
}
