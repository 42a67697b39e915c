// A teardown rule refused an operation before anything changed. It is an
// expected outcome, not a crash: Pulumi's provider host prints `${err}: ${err.stack}`
// for failed deletes, so the stack is one plain line instead of a trace with
// the install's file paths.
export class TeardownRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TeardownRefusedError";
    this.stack = "(refused by the teardown rules before any change)";
  }
}
