// libvirt-pulumi/provider: the resource providers, for Pulumi's dynamic-provider
// host (the SDK classes reach them with require() inside their methods) and for
// direct use in tests and tools.
import { makeDomainProvider } from "./domain/provider";
import { makePoolProvider as makePoolProviderRaw } from "./storage/pool-provider";
import { makeVolumeProvider as makeVolumeProviderRaw } from "./storage/volume-provider";
import { makeSnapshotProvider } from "./snapshot/provider";
import { makeNetworkProvider } from "./network/provider";
import type { ProviderHooks } from "./hooks";
import { redactingErrors } from "./redacting";
// What leaves a provider never repeats a URI password (provider/redacting.ts).
// The factories build a provider with injected hooks (provider/hooks.ts), for tests.
export { makeDomainProvider, makeSnapshotProvider, makeNetworkProvider };
export const makePoolProvider = (hooks?: ProviderHooks) => redactingErrors(makePoolProviderRaw(hooks));
export const makeVolumeProvider = (hooks?: ProviderHooks) => redactingErrors(makeVolumeProviderRaw(hooks));
export type { ProviderHooks, PausePoint } from "./hooks";
export const domainProvider = makeDomainProvider();
export const poolProvider = makePoolProvider();
export const volumeProvider = makeVolumeProvider();
export const snapshotProvider = makeSnapshotProvider();
export const networkProvider = makeNetworkProvider();
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
// SnapshotOptionError: what a refused snapshot option throws, for callers that tell it apart.
export { SnapshotOptionError, type SnapshotOutputs } from "./snapshot/provider";
export type { SnapshotInputs, SnapshotDiskInput } from "./snapshot/inputs";
export { changesState } from "./libvirt/calls";
// Network: its outputs and the pieces behind it, for tests and tools.
export type { NetworkOutputs } from "./network/provider";
export { checkNetworkInputs, type NetworkInputs } from "./network/inputs";
export { buildNetworkXml, parseNetworkXml, interfacesOnNetwork } from "./network/xml";
export { NetworkHandle, lookupNetwork, listNetworks } from "./libvirt/network";
