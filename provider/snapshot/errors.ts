// The error a refused Snapshot option throws: it names the input to change.
import { DeliberateError } from "../deliberate";
import type { LibvirtError } from "../libvirt/errors";

/** A snapshot operation refused because of an option: `option` names the input to change (deliberate: no stack trace). */
export class SnapshotOptionError extends DeliberateError {
  constructor(
    readonly option: string,
    message: string,
    readonly libvirt?: LibvirtError,
  ) {
    super(message);
  }
}
