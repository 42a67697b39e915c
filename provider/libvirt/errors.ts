// One error type for every libvirt failure: libvirt's code, domain and message,
// plus what we were doing. Decisions ("is it gone?") are made on the code only.
import { virErrorDomain, virErrorNumber } from "./libvirt.gen";
import { redactUri } from "./uri";

const codeNames = new Map<number, string>(Object.entries(virErrorNumber).map(([k, v]) => [v, k]));
const domainNames = new Map<number, string>(Object.entries(virErrorDomain).map(([k, v]) => [v, k]));

export class LibvirtError extends Error {
  /** libvirt's virErrorNumber, e.g. 42 = VIR_ERR_NO_DOMAIN. */
  readonly code: number;
  /** libvirt's virErrorDomain: which part of libvirt raised it. */
  readonly domain: number;
  readonly libvirtMessage: string;
  /** What we were doing, e.g. `defining domain "web" on qemu:///system`. */
  readonly operation: string;

  constructor(operation: string, code: number, domain: number, libvirtMessage: string, hint?: string) {
    // Every part redacted: libvirt prints a URI it could not parse as given, password and all.
    [operation, libvirtMessage, hint] = [operation, libvirtMessage, hint].map((t) => (t ? redactUri(t) : t)) as [string, string, string | undefined];
    super(`${operation}: ${libvirtMessage}${hint ? ` (${hint})` : ""}`);
    this.name = "LibvirtError";
    this.code = code;
    this.domain = domain;
    this.libvirtMessage = libvirtMessage;
    this.operation = operation;
  }

  get codeName(): string {
    return codeNames.get(this.code) ?? `VIR_ERR_${this.code}`;
  }

  get domainName(): string {
    return domainNames.get(this.domain) ?? `VIR_FROM_${this.domain}`;
  }

  is(...codes: number[]): boolean {
    return codes.includes(this.code);
  }
}

/**
 * The loaded libvirt library lacks a function (it is older than the version that
 * introduced it). Raised when the function is called, not when the library loads.
 */
export class LibvirtFunctionUnavailableError extends Error {
  constructor(
    readonly functionName: string,
    /** The libvirt version that introduced the function (libvirt-api.xml). */
    readonly since: string,
    path: string,
    cause: string,
  ) {
    super(
      `libvirt function ${functionName} is not available in ${path} (needs libvirt ${since} or later; install a newer libvirt client library): ${cause}`,
    );
    this.name = "LibvirtFunctionUnavailableError";
  }
}

/** Whether err says that this very function is missing from the loaded library. */
export const isFunctionUnavailable = (err: unknown, functionName: string): boolean =>
  err instanceof LibvirtFunctionUnavailableError && err.functionName === functionName;

export const isLibvirtError = (err: unknown, ...codes: number[]): err is LibvirtError =>
  err instanceof LibvirtError && (codes.length === 0 || err.is(...codes));

/** fn's result, or null when it fails with an error `test` says means "not found" (isNoDomain, ...). */
export async function orNull<T>(test: (err: unknown) => boolean, fn: () => Promise<T>): Promise<T | null> {
  try {
    return await fn();
  } catch (err) {
    if (test(err)) return null;
    throw err;
  }
}

/** "Gone" is decided on these codes only: a daemon that is down is not a deleted domain. */
export const isNoDomain = (err: unknown) => isLibvirtError(err, virErrorNumber.VIR_ERR_NO_DOMAIN);
export const isNoSnapshot = (err: unknown) => isLibvirtError(err, virErrorNumber.VIR_ERR_NO_DOMAIN_SNAPSHOT);
export const isNoPool = (err: unknown) => isLibvirtError(err, virErrorNumber.VIR_ERR_NO_STORAGE_POOL);
export const isNoVolume = (err: unknown) => isLibvirtError(err, virErrorNumber.VIR_ERR_NO_STORAGE_VOL);
export const isNoNetwork = (err: unknown) => isLibvirtError(err, virErrorNumber.VIR_ERR_NO_NETWORK);
/** virDomainGetMetadata: the definition has no such element. */
export const isNoMetadata = (err: unknown) => isLibvirtError(err, virErrorNumber.VIR_ERR_NO_DOMAIN_METADATA);
/** A domain's live XML asked for after it stopped: VIR_ERR_OPERATION_INVALID ("domain is not running"). */
export const isNotRunning = (err: unknown) => isLibvirtError(err, virErrorNumber.VIR_ERR_OPERATION_INVALID);

/** The driver does not implement a flag or call (the test driver and NVRAM, say). */
export const isUnsupported = (err: unknown) =>
  isLibvirtError(err, virErrorNumber.VIR_ERR_NO_SUPPORT, virErrorNumber.VIR_ERR_INVALID_ARG, virErrorNumber.VIR_ERR_ARGUMENT_UNSUPPORTED);

/** The connection to the daemon broke (daemon restarted or killed). */
export const isConnectionLost = (err: unknown) =>
  isLibvirtError(err) &&
  ((err.is(
    virErrorNumber.VIR_ERR_SYSTEM_ERROR,
    virErrorNumber.VIR_ERR_RPC,
    virErrorNumber.VIR_ERR_INTERNAL_ERROR,
    virErrorNumber.VIR_ERR_NO_CONNECT,
  ) &&
    err.domain === virErrorDomain.VIR_FROM_RPC) ||
    err.is(virErrorNumber.VIR_ERR_INVALID_CONN));

/**
 * A directory pool refuses virStoragePoolRefresh while a volume in it is being
 * built ("pool 'x' has asynchronous jobs running."). libvirt has no code of its
 * own for this (VIR_ERR_INTERNAL_ERROR), hence the message test.
 */
export const isPoolBusy = (err: unknown) =>
  isLibvirtError(err, virErrorNumber.VIR_ERR_INTERNAL_ERROR) && /asynchronous jobs running/.test(err.libvirtMessage);

/** Another job holds the domain (libvirt serializes jobs per domain). */
export const isJobBusy = (err: unknown) => isLibvirtError(err, virErrorNumber.VIR_ERR_OPERATION_TIMEOUT);
