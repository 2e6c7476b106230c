import { Command, CommanderError } from 'commander';
import { ConfigError, EXIT, FerryError, ServiceError } from '../common/errors';
import { redactSecrets } from '../common/logger';
import { TokenError } from '../server/wait';
import { initCommand } from './commands/init';
import { trackCommand, untrackCommand } from './commands/track';
import { forwardCommand } from './commands/forward';
import { applyCommand, runCommand } from './commands/run';
import { resumeCommand, skipCommand, statusCommand } from './commands/status';
import { waitCommand } from './commands/wait';
import { bootstrapCommand } from './commands/bootstrap';
import { verifyCommand } from './commands/verify';
import { lineageCommand } from './commands/lineage';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { version } = require('../../package.json') as { version: string };

export function program(): Command {
  return new Command('ferry')
    .description('Keeps PostgreSQL databases in several datacenters in sync through Kafka or Amazon SQS.')
    .version(version, '-V, --version')
    .addHelpText('after', '\nConfiguration: YAML or JSON (--config FILE); every key can be overridden by FERRY_<KEY>, nested keys joined by "__".')
    .addCommand(initCommand())
    .addCommand(trackCommand())
    .addCommand(untrackCommand())
    .addCommand(runCommand())
    .addCommand(forwardCommand())
    .addCommand(applyCommand())
    .addCommand(statusCommand())
    .addCommand(resumeCommand())
    .addCommand(skipCommand())
    .addCommand(verifyCommand())
    .addCommand(bootstrapCommand())
    .addCommand(waitCommand())
    .addCommand(lineageCommand())
    .exitOverride();
}

export async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) process.exit(e.exitCode);
    const msg = e instanceof FerryError ? e.message : `unexpected error: ${(e as Error).stack ?? e}`;
    process.stderr.write(`ferry: ${redactSecrets(msg)}\n`);
    process.exit(e instanceof ConfigError || e instanceof TokenError ? EXIT.config : e instanceof ServiceError ? EXIT.service : EXIT.error);
  }
}
