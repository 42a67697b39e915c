// libvirt-pulumi/provider: the resource providers, for Pulumi's dynamic-provider
// host (the SDK classes reach them with require() inside their methods) and for
// direct use in tests and tools.
import { domainProvider } from "./domain/provider";
import { poolProvider as poolProviderRaw, volumeProvider as volumeProviderRaw } from "./storage";
import { snapshotProvider as snapshotProviderRaw } from "./snapshot/provider";
import { redactingErrors } from "./redacting";
// What leaves a provider never repeats a URI password (provider/redacting.ts).
export { domainProvider };
export const poolProvider = redactingErrors(poolProviderRaw);
export const volumeProvider = redactingErrors(volumeProviderRaw);
export const snapshotProvider = redactingErrors(snapshotProviderRaw);
export type { DomainOutputs } from "./domain/provider";
export { checkDomainInputs, type DomainInputs } from "./domain/inputs";
export { buildDomainXml, parseDomainXml } from "./domain/xml";
export * as teardown from "./teardown/index";
export { keepsDataOnDestroy, KEEP_SNAPSHOT_DATA_ENV } from "./teardown/snapshot";
export { LibvirtError } from "./libvirt/errors";
export { redactUri, uriHasPassword } from "./libvirt/uri";
export { TeardownRefusedError } from "./teardown/refused";
export { PartlyCreatedError, recordPartlyCreated } from "./resource/partly-created";
export { withConnection, closeAllConnections } from "./libvirt/connection";
export { DomainHandle } from "./libvirt/domain";
export { storage, type PoolOutputs, type VolumeOutputs } from "./storage";
export {
  snapshotId,
  parseSnapshotId,
  createFlags,
  SnapshotOptionError,
  checkSnapshotInputs,
  buildSnapshotXml,
  parseSnapshotXml,
  withDescription,
  whileJobBusy,
  JobBusyTimeoutError,
  JOB_WAIT_ENV,
  type SnapshotOutputs,
  type SnapshotInputs,
  type SnapshotDiskInput,
} from "./snapshot/provider";
/** In-process test hooks (provider/test-hooks.ts); never set in production. */
export { testHooks } from "./test-hooks";
export { changesState } from "./libvirt/calls";
