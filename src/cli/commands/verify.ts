import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, FerryError } from '../../common/errors';
import { formatRepair, repair } from '../../verify/repair';
import { formatReport, verify } from '../../verify/verify';
import { context } from '../context';

const whole = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} takes a whole number`);
  return Number(v);
};

export function verifyCommand(): Command {
  return new Command('verify')
    .description('compare every tracked table of this DC with each peer, while writes go on; exit 1 naming the keys that differ')
    .option('--table <table>', 'only this table')
    .option('--json', 'print JSON')
    .option('--repair', 'then re-send the rows that differ from the DC given by --from (explicit)')
    .option('--from <dc>', 'with --repair: the DC whose rows are right (this DC or a peer)')
    .option('--settle-ms <n>', 'how long to wait for changes in flight before reading a difference again', whole('--settle-ms'), 60_000)
    .option('--rounds <n>', 'how often a row written again meanwhile is read again', whole('--rounds'), 5)
    .option('--verbose', 'say what it does, on stderr')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .addHelpText(
      'after',
      `
Reads each peer's database directly (peerDatabases.<dc> in the config). Ranges of keys are compared
by row count and checksum and narrowed down to the keys that differ; those are read again once each
side has applied everything the other had, so changes in flight are not reported.
Exit 0: equal. 1: keys differ (listed). 2: could not decide (rows kept changing, a stream did not
catch up) or could not run.
Repair: an UPDATE that sets a column to itself at --from (a row it has) or a DELETE where the row
should not be (a row it lacks): captured changes with new versions, which win in every DC.`,
    )
    .action(async (opts: { config?: string; table?: string; json?: boolean; repair?: boolean; from?: string; settleMs: number; rounds: number; verbose?: boolean }) => {
      const { config } = context(opts);
      if (opts.repair && !opts.from) throw new ConfigError('--repair needs --from DC: the DC whose rows are right (this DC or a peer)');
      if (opts.from && !opts.repair) throw new ConfigError('--from is for --repair');
      let report, fixed;
      try {
        const say = opts.verbose ? (line: string) => process.stderr.write(`verify: ${line}\n`) : undefined;
        report = await verify(config, { table: opts.table, settleMs: opts.settleMs, rounds: opts.rounds, say });
        fixed = opts.repair ? await repair(config, report, opts.from!) : undefined;
      } catch (e) {
        // 1 means "the DCs differ": anything that kept verify from answering is 2
        process.stderr.write(`ferry: ${e instanceof FerryError ? e.message : (e as Error).stack}\n`);
        process.exitCode = 2;
        return;
      }
      if (opts.json) console.log(JSON.stringify(fixed ? { ...report, repair: fixed } : report));
      else console.log(formatReport(report) + (fixed ? '\n' + formatRepair(fixed) : ''));
      // repaired: the differences found are re-sent (verify again once the stream drained)
      process.exitCode = !report.equal && !fixed ? 1 : report.undecided ? 2 : 0;
    });
}
