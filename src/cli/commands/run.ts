import { Command } from 'commander';
import { runSidecar } from '../../server/sidecar';
import { context, shutdownSignal } from '../context';

function action(parts: { forward: boolean; apply: boolean }) {
  return async (opts: { config?: string }) => {
    const { config, log } = context(opts);
    await runSidecar(config, log, shutdownSignal(log), { ...parts, http: true });
    log.info('stopped');
  };
}

export function runCommand(): Command {
  return new Command('run')
    .description('sidecar: forwarder for this DC + an applier for every peer + HTTP (/healthz /readyz /metrics /status)')
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .action(action({ forward: true, apply: true }));
}

export function applyCommand(): Command {
  return new Command('apply')
    .description("appliers only: apply every peer's changes to this DC (+ HTTP)")
    .option('-c, --config <file>', 'config file (YAML or JSON)')
    .action(action({ forward: false, apply: true }));
}
