import { Command } from 'commander';
import { LineageError } from '../../common/errors';
import { acceptOwnLineage } from '../../forward/lineage';
import { acceptOfferedLineage, readApplied } from '../../tables/applied';
import { recordedIdentity } from '../../tables/state';
import { context, database } from '../context';

/**
 * `ferry lineage accept`: after this DC's database was restored, promoted or moved, start a new
 * lineage of this origin here; with --origin, accept the lineage another origin's stream now
 * carries (docs/operations.md, "Restore, failover and lineage").
 */
export function lineageCommand(): Command {
  const accept = new Command('accept')
    .description("without --origin: this DC's database was restored, promoted or moved; its stream goes on under a new lineage from its last stamped position. With --origin DC: apply the lineage DC's stream now carries")
    .option('--origin <dc>', "another origin whose stream stopped on a lineage this DC has not accepted")
    .option('--lineage <id>', 'with --origin: accept only this lineage id (as the stopped stream names it)')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .action(async (opts: { config?: string; origin?: string; lineage?: string }) => {
      const { config } = context(opts);
      const db = await database(config);
      try {
        if (!opts.origin || opts.origin === config.origin) {
          const a = await acceptOwnLineage(db, config.origin);
          console.log(
            `${config.origin} goes on under lineage ${a.lineage} (forked from ${a.parent} at position ${a.since})` +
              (a.changed.length ? `; the database: ${a.changed.join('; ')}` : '; nothing differed from what was recorded (a new lineage all the same, as asked)') +
              (a.bridge ? `; ticks start again in this cluster's transaction ids at tick ${a.bridge.tick} (${a.bridge.moved} unsent change(s) carried over)` : '') +
              `. Start the forwarder, then run \`ferry lineage accept --origin ${config.origin}\` in every peer.`,
          );
          return;
        }
        const st = await readApplied(db, opts.origin);
        const r = await acceptOfferedLineage(db, opts.origin, opts.lineage);
        if (!r) {
          const why = st.lineageOffered
            ? `its stream was offered lineage ${st.lineageOffered.id}, not ${opts.lineage}`
            : `its stream was offered no other lineage (this DC applies ${st.lineage.id ?? 'none recorded yet'})`;
          throw new LineageError(`nothing to accept for ${opts.origin}: ${why}; \`ferry status\` shows the stream`);
        }
        console.log(
          `lineage ${r.id} of ${opts.origin} accepted (it replaces ${r.previous ?? 'none'}); the stream resumes after position ${r.pos}` +
            (st.pos > r.since ? `. Positions ${r.since + 1}–${st.pos} applied here came from the replaced lineage and stay: \`ferry verify\` shows where the DCs differ` : ''),
        );
      } finally {
        await db.end();
      }
    });
  const show = new Command('show')
    .description("this DC's own lineage, and the lineage it applies of each peer")
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .action(async (opts: { config?: string }) => {
      const { config } = context(opts);
      const db = await database(config);
      try {
        const own = await recordedIdentity(db);
        const peers: Record<string, unknown> = {};
        for (const p of config.peers) {
          const st = await readApplied(db, p);
          peers[p] = { lineage: st.lineage.id, since: st.lineage.since, retired: st.lineage.retired, offered: st.lineageOffered };
        }
        console.log(JSON.stringify({ [config.origin]: own, peers }, null, 2));
      } finally {
        await db.end();
      }
    });
  return new Command('lineage').description('the database history each stream belongs to: show it, accept a new one').addCommand(accept).addCommand(show);
}
