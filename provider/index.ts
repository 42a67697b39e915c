// libvirt-pulumi/provider: the resource providers, for Pulumi's dynamic-provider
// host (the SDK classes reach them with require() inside their methods) and for
// direct use in tests and tools.
import { makeDomainProvider } from "./domain/provider";
import { makePoolProvider } from "./pool/provider";
import { makeVolumeProvider } from "./volume/provider";
import { makeSnapshotProvider } from "./snapshot/provider";
import { makeNetworkProvider } from "./network/provider";
import { makeCloudInitDiskProvider } from "./cloudinitdisk/provider";
import { tuneProcess } from "./libvirt/native";

// On load, before any libvirt call: libuv fixes its pool size when the first call starts it (docs/performance.md).
tuneProcess();

// What leaves a provider never repeats a URI password (provider/redacting.ts; defineProvider applies it).
// The factories build a provider with injected hooks (provider/hooks.ts), for tests.
export { makeDomainProvider, makePoolProvider, makeSnapshotProvider, makeVolumeProvider, makeNetworkProvider, makeCloudInitDiskProvider };
export type { ProviderHooks, PausePoint } from "./hooks";
export const domainProvider = makeDomainProvider();
export const poolProvider = makePoolProvider();
export const volumeProvider = makeVolumeProvider();
export const snapshotProvider = makeSnapshotProvider();
export const networkProvider = makeNetworkProvider();
export const cloudInitDiskProvider = makeCloudInitDiskProvider();
export type { DomainOutputs } from "./domain/provider";
export type { DomainInputs } from "./domain/inputs";
export type { PoolOutputs } from "./pool/provider";
export type { PoolInputs } from "./pool/inputs";
export type { VolumeOutputs } from "./volume/provider";
export type { VolumeInputs } from "./volume/inputs";
export { LibvirtError } from "./libvirt/errors";
export { redactUri, uriHasPassword } from "./libvirt/uri";
export { TeardownRefusedError } from "./teardown/refused";
export { PartlyCreatedError } from "./resource/partly-created";
// AdoptMismatchError: an adopt refused because the existing object differs from the inputs (its `differences` list them).
export { AdoptMismatchError } from "./resource/adopt";
// The connection cache is one instance per loaded module: tests that open their own connections share the providers' one.
export { withConnection, closeAllConnections } from "./libvirt/connection";
export { DomainHandle } from "./libvirt/domain";
// SnapshotOptionError: what a refused snapshot option throws, for callers that tell it apart.
export { SnapshotOptionError, type SnapshotOutputs } from "./snapshot/provider";
export type { SnapshotInputs, SnapshotDiskInput } from "./snapshot/inputs";
export type { NetworkOutputs } from "./network/provider";
export type { NetworkInputs } from "./network/inputs";
export type { CloudInitDiskOutputs } from "./cloudinitdisk/provider";
export type { CloudInitDiskInputs } from "./cloudinitdisk/inputs";
