import type { Queryable } from '../common/db';
import { FerryError } from '../common/errors';
import { readApplied, resumeStream } from '../tables/applied';
import { requestSkip } from '../tables/skips';

/** `ferry resume`: lets a stopped stream try again from its applied position. */
export async function resume(db: Queryable, origin: string): Promise<boolean> {
  return resumeStream(db, origin);
}

/** `ferry skip`: the change at pos is not applied; who asked and why is kept in ferry.skips. */
export async function skipChange(db: Queryable, origin: string, pos: number, reason: string | undefined): Promise<void> {
  const st = await readApplied(db, origin);
  if (pos <= st.pos) {
    throw new FerryError(
      `position ${pos} of ${origin} is already applied here (applied up to ${st.pos}); nothing to skip.` +
        (st.status === 'stopped' && st.errorPos !== null ? ` The stream is stopped at position ${st.errorPos}: \`ferry skip --origin ${origin} --pos ${st.errorPos}\` skips that one.` : ''),
    );
  }
  await requestSkip(db, origin, pos, reason ?? null);
  await resumeStream(db, origin);
}
