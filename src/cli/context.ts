import { Client } from 'pg';
import { loadConfig } from '../config/load';
import type { FerryConfig } from '../config/schema';
import { connect, databaseError } from '../common/db';
import { createLogger, Logger } from '../common/logger';

export interface Ctx {
  config: FerryConfig;
  log: Logger;
}

export function context(opts: { config?: string }): Ctx {
  const config = loadConfig(opts.config);
  const log = createLogger().child({ origin: config.origin });
  return { config, log };
}

export async function database(cfg: FerryConfig): Promise<Client> {
  try {
    return await connect(cfg.database, { application_name: 'ferry-cli' });
  } catch (e) {
    throw databaseError(e, cfg.database);
  }
}


/** An AbortSignal that fires on SIGTERM/SIGINT: long-running commands finish their batch, then exit 0. */
export function shutdownSignal(log: Logger): AbortSignal {
  const ac = new AbortController();
  const on = (sig: string) => {
    if (ac.signal.aborted) {
      log.warn(`${sig} again: exiting now`);
      process.exit(130);
    }
    log.info(`${sig}: finishing the current batch, then stopping`);
    ac.abort();
  };
  process.on('SIGTERM', () => on('SIGTERM'));
  process.on('SIGINT', () => on('SIGINT'));
  return ac.signal;
}
