import { Command } from 'commander';
import { bootstrap } from '../../bootstrap/bootstrap';
import { context } from '../context';

export function bootstrapCommand(): Command {
  return new Command('bootstrap')
    .description('fill this new, empty DC from a running one while every DC keeps writing, then join the stream (resumable)')
    .requiredOption('--from <dc>', "the running DC to copy from (its database: peerDatabases.<dc> in the config)")
    .option('--json', 'print the report as JSON')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .addHelpText(
      'after',
      `
Before: the tables exist here with no rows; \`ferry init\` ran here; every running DC lists this DC among
its peers (with SQS: and was restarted, so its queue for this DC exists). Each table is copied with
COPY in one snapshot of the source, with the source's row versions and counter shares; the tables
already copied by an interrupted run are skipped. Then start \`ferry run\` here: it catches up from
where the copies leave off, dropping the changes they already hold.`,
    )
    .action(async (opts: { config?: string; from: string; json?: boolean }) => {
      const { config } = context(opts);
      const r = await bootstrap(config, { from: opts.from });
      if (opts.json) console.log(JSON.stringify(r));
      else if (r.alreadyDone) console.log(`this DC was bootstrapped from ${r.source} already: nothing to do`);
      else console.log(`copied ${r.rows} rows of ${r.copied.length} table(s) from ${r.source} in ${r.seconds.toFixed(1)} s${r.skipped.length ? ` (${r.skipped.length} skipped: copied by an earlier run)` : ''}`);
    });
}
