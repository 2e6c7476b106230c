import { Command } from 'commander';
import { Forwarder } from '../../forward/forwarder';
import { schemaReady } from '../../server/sidecar';
import { publisherFor } from '../../transport';
import { probeTransport } from '../../transport/probe';
import { context, shutdownSignal } from '../context';

export function forwardCommand(): Command {
  return new Command('forward')
    .description("run the forwarder only: publish this DC's captured changes (one leader per origin; others stand by)")
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .action(async (opts: { config?: string }) => {
      const { config, log } = context(opts);
      const stop = shutdownSignal(log);
      if (!(await schemaReady(config, log, stop))) return;
      await probeTransport(config, stop);
      const fwd = new Forwarder(config, publisherFor(config, log), log.child({ role: 'forwarder' }));
      await fwd.run(stop);
      log.info('forwarder stopped');
    });
}
