// A teardown rule refused an operation before anything changed. It is an
// expected outcome, not a crash: a DeliberateError (../deliberate.ts), printed
// once, on the resource, without a stack trace.
import { DeliberateError } from "../deliberate";

export class TeardownRefusedError extends DeliberateError {}
