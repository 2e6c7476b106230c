// Ferry as its users run it: through the `ferry` command (DESIGN.md §8), one process per role,
// with a config file per DC. Only the command-line contract is used here, so the benchmarks
// measure whatever the checked-out code builds.
import { ChildProcess, execFile, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ROOT, services, workDir } from './paths';
import { RssSampler } from './rss';
import type { TransportKind } from './settings';
import { uniq } from './db';

const execFileP = promisify(execFile);
const BIN = path.join(ROOT, 'bin', 'ferry');

export interface DcConfig {
  origin: string;
  database: string;
  transport: Record<string, unknown>;
  peers: string[];
  http: { port: number };
  /** Other DCs' databases, for `ferry bootstrap` and `ferry verify` only. */
  peerDatabases?: Record<string, string>;
}

/** One transport prefix per run, so runs never read each other's topics or queues. */
export function transportFor(kind: TransportKind, prefix: string): Record<string, unknown> {
  const env = services();
  return kind === 'kafka'
    ? { kind, brokers: env.FERRY_KAFKA_BROKERS.split(','), topicPrefix: prefix }
    : // the emulator takes any credentials; these are placeholders, not secrets
      { kind, endpoint: env.FERRY_SQS_ENDPOINT, region: 'us-east-1', queuePrefix: prefix, accessKeyId: 'bench', secretAccessKey: 'bench' };
}

/** Ferry's defaults everywhere except what a benchmark must set: HTTP on a free port. */
export function dcConfig(origin: string, database: string, kind: TransportKind, prefix: string, peers: string[]): DcConfig {
  return { origin, database, transport: transportFor(kind, prefix), peers, http: { port: 0 } };
}

export function writeConfig(cfg: DcConfig): string {
  const file = path.join(workDir('config'), `${uniq(cfg.origin + '-')}.json`);
  writeFileSync(file, JSON.stringify(cfg, null, 2));
  return file;
}

function requireBuild() {
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/ is missing: run `npm run build` (make bench does)');
}

/** Runs `ferry ARGS… --config FILE` to completion; throws with its output when it fails. */
export async function ferryCli(args: string[], configFile: string): Promise<string> {
  requireBuild();
  try {
    const r = await execFileP(process.execPath, [BIN, ...args, '--config', configFile], { env: { ...process.env, FERRY_LOG_LEVEL: 'warn' }, maxBuffer: 16 << 20 });
    return r.stdout;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`ferry ${args.join(' ')} failed: ${x.message}\n${x.stdout ?? ''}${x.stderr ?? ''}`);
  }
}

/** `ferry init` and `ferry track` for one DC. */
export async function prepareDc(configFile: string, tables: readonly string[]): Promise<void> {
  await ferryCli(['init'], configFile);
  if (tables.length) await ferryCli(['track', ...tables], configFile);
}

/** A long-running `ferry run|forward|apply` process with its memory sampled. */
export class FerryProcess {
  readonly child: ChildProcess;
  readonly rss: RssSampler;
  private stopping = false;
  private exitInfo: string | undefined;

  constructor(
    readonly role: string,
    readonly command: 'run' | 'forward' | 'apply',
    configFile: string,
    readonly logFile: string,
  ) {
    requireBuild();
    const fd = openSync(logFile, 'a');
    // BENCH_FERRY_NODE_ARGS: node options for the long-running ferry processes only, e.g.
    // "--cpu-prof --cpu-prof-dir=/tmp/prof" (which NODE_OPTIONS does not take) to see where time goes
    const nodeArgs = (process.env.BENCH_FERRY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    this.child = spawn(process.execPath, [...nodeArgs, BIN, command, '--config', configFile], {
      env: { ...process.env, FERRY_LOG_LEVEL: process.env.FERRY_LOG_LEVEL ?? 'warn' },
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.rss = new RssSampler(this.child.pid!);
    this.child.once('exit', (code, signal) => {
      this.rss.stop();
      if (!this.stopping) this.exitInfo = `ferry ${command} (${role}) exited by itself (code ${code}, signal ${signal}); log ${logFile}:\n${this.logTail()}`;
    });
  }

  /** Throws when the process died on its own: a benchmark must not wait for a dead pipeline. */
  check(): void {
    if (this.exitInfo) throw new Error(this.exitInfo);
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** SIGTERM (Ferry finishes its batch and exits); SIGKILL if that takes longer than graceMs. */
  async stop(graceMs = 15_000): Promise<void> {
    this.rss.sample();
    this.rss.stop();
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.stopping = true;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** One folder of logs per suite run. */
const LOGS = new Date().toISOString().replace(/[:.]/g, '-');

/** Starts a Ferry process whose output goes to .ferry/bench/logs/<suite start>/<run>-<role>.log. */
export function startFerry(run: string, role: string, command: 'run' | 'forward' | 'apply', configFile: string): FerryProcess {
  return new FerryProcess(role, command, configFile, path.join(workDir('logs', LOGS), `${run}-${role}.log`));
}

export async function stopAll(procs: FerryProcess[]): Promise<void> {
  await Promise.all(procs.map((p) => p.stop()));
}
