import { FerryError } from '../common/errors';

/**
 * A write of this DC touched rows between the applier's read and its write of them (the rows'
 * xmin changed). Retriable: the group is rolled back and applied again on the rows as they are now.
 */
export class LocalWriteRace extends FerryError {
  constructor(what: string) {
    super(`${what}: a write of this DC touched the same rows meanwhile; applying the group again`, { retriable: true });
  }
}
