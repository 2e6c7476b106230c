import { sleep } from '../common/sleep';
import type { IntakeLedger } from './intake';

/**
 * How long the intake (the transport's delivery callback) waits before it takes the next batch.
 * `going` says the session still runs (no failure, not stopping).
 */
export async function intakeWait(
  ledger: IntakeLedger,
  opts: { blocksWhileUnacked: boolean; groupChanges: number; txOpen: () => boolean; going: () => boolean },
  applying: Promise<void>,
): Promise<void> {
  // a transport that delivers nothing more until acknowledged: the apply must end first
  if (opts.blocksWhileUnacked) await applying;
  else await roomFor(ledger, opts.groupChanges, applying, opts.going);
  // a full buffer waiting on a gap stops the intake until the gap is handled
  while (opts.going() && ledger.full() && ledger.waiting(opts.txOpen()) === 'gap') await sleep(100);
}

/**
 * Returns once the ledger holds less than a group's worth (or `applying` is done): the transport
 * then fetches and decodes the next batch while the destination writes this one, instead of after
 * all of it (measured in catch-up: the applier's process sat idle half the time, waiting on writes
 * it could have overlapped with the fetch). The ledger's own bound still caps what is held.
 */
async function roomFor(ledger: IntakeLedger, groupChanges: number, applying: Promise<void>, going: () => boolean): Promise<void> {
  let done = false;
  const settled = applying.then(
    () => (done = true),
    () => (done = true),
  );
  while (!done && going() && ledger.size >= groupChanges) await Promise.race([settled, sleep(5)]);
}
