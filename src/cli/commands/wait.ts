import { Command, InvalidArgumentError } from 'commander';
import { waitForToken } from '../../server/wait';
import { context, database } from '../context';

export function waitCommand(): Command {
  return new Command('wait')
    .description("read your writes: return once the write that took TOKEN (select ferry.token() at the origin) is applied in this DC")
    .requiredOption('--token <token>', 'the token, origin:xid, from ferry.token() inside the write transaction')
    .option('--timeout-ms <n>', 'give up after this long (exit 1)', (v) => {
      if (!/^\d+$/.test(v)) throw new InvalidArgumentError('--timeout-ms takes a whole number of milliseconds');
      return Number(v);
    }, 10_000)
    .option('--json', 'print JSON')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .addHelpText('after', '\nExit 0 once applied, 1 on timeout (with the reason), 2 on a bad token or configuration.\nThe same from SQL: select ferry.wait_for(token, ms); over HTTP: GET /wait?token=T&timeoutMs=N.')
    .action(async (opts: { config?: string; token: string; timeoutMs: number; json?: boolean }) => {
      const { config } = context(opts);
      const db = await database(config);
      try {
        const r = await waitForToken(db, config.origin, opts.token, opts.timeoutMs);
        if (opts.json) console.log(JSON.stringify(r));
        else console.log(r.applied ? `applied in ${config.origin} (waited ${r.waitedMs} ms)` : `NOT applied in ${config.origin}: ${r.reason}`);
        if (!r.applied) process.exitCode = 1;
      } finally {
        await db.end();
      }
    });
}
