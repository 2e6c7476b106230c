import { Command, InvalidArgumentError } from 'commander';
import { resume, skipChange } from '../../apply/operator';
import { dcStatus, formatStatus } from '../../server/status';
import { context, database } from '../context';

export function statusCommand(): Command {
  return new Command('status')
    .description('positions, lag (changes and seconds) per origin, and stopped streams with their errors')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .option('--json', 'print JSON')
    .action(async (opts: { config?: string; json?: boolean }) => {
      const { config } = context(opts);
      const db = await database(config);
      try {
        const s = await dcStatus(db, config);
        console.log(opts.json ? JSON.stringify(s, null, 2) : formatStatus(s));
        if (!s.healthy) process.exitCode = 1;
      } finally {
        await db.end();
      }
    });
}

export function resumeCommand(): Command {
  return new Command('resume')
    .description("let a stopped origin stream try again from its applied position (after fixing the cause)")
    .requiredOption('--origin <dc>', 'the origin whose stream is stopped')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .action(async (opts: { config?: string; origin: string }) => {
      const { config } = context(opts);
      const db = await database(config);
      try {
        console.log((await resume(db, opts.origin)) ? `stream from ${opts.origin} resumes` : `stream from ${opts.origin} was not stopped`);
      } finally {
        await db.end();
      }
    });
}

export function skipCommand(): Command {
  return new Command('skip')
    .description('do not apply one change of an origin (recorded with who and why in ferry.skips), then resume')
    .requiredOption('--origin <dc>', 'the origin of the change')
    .requiredOption('--pos <n>', 'its position', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError('--pos takes a whole number');
      return Number(v);
    })
    .option('--reason <text>', 'why (kept in the audit table)')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .action(async (opts: { config?: string; origin: string; pos: number; reason?: string }) => {
      const { config } = context(opts);
      const db = await database(config);
      try {
        await skipChange(db, opts.origin, opts.pos, opts.reason);
        console.log(`position ${opts.pos} of ${opts.origin} will be skipped; stream resumes`);
      } finally {
        await db.end();
      }
    });
}
