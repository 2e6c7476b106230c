import { Command } from 'commander';
import { migrate, printableSql } from '../../capture/migrate';
import { context, database } from '../context';

export function initCommand(): Command {
  return new Command('init')
    .description("install or upgrade schema ferry in this DC's database (idempotent)")
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .option('--print', 'print the SQL it would run, and run nothing')
    .action(async (opts: { config?: string; print?: boolean }) => {
      if (opts.print) {
        process.stdout.write(printableSql());
        return;
      }
      const { config } = context(opts);
      const db = await database(config);
      try {
        const r = await migrate(db, { origin: config.origin });
        console.log(r.applied.length ? `schema ferry: applied ${r.applied.join(', ')}` : `schema ferry is up to date (migration ${r.current})`);
      } finally {
        await db.end();
      }
    });
}
