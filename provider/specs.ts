// Every resource spec, with where its generated SDK module and README table go
// (scripts/gen-from-spec.mjs; test/unit/spec-generated.test.ts checks they are fresh).
import { domainSpec } from "./domain/spec";
import { snapshotSpec } from "./snapshot/spec";
import { poolSpec } from "./pool/spec";
import { volumeSpec } from "./volume/spec";
import { networkSpec } from "./network/spec";
import { cloudInitDiskSpec } from "./cloudinitdisk/spec";
import type { ResourceSpec } from "./resource/spec";

export interface GeneratedFrom {
  spec: ResourceSpec;
  /** The SDK module, relative to the repository. */
  sdkModule: string;
  /** The README section `<!-- spec:<id> -->` that holds the input table. */
  readmeSection: string;
}

export const GENERATED: readonly GeneratedFrom[] = [
  { spec: domainSpec, sdkModule: "sdk/generated/domain.ts", readmeSection: "Domain:inputs" },
  { spec: snapshotSpec, sdkModule: "sdk/generated/snapshot.ts", readmeSection: "Snapshot:inputs" },
  { spec: poolSpec, sdkModule: "sdk/generated/pool.ts", readmeSection: "Pool:inputs" },
  { spec: volumeSpec, sdkModule: "sdk/generated/volume.ts", readmeSection: "Volume:inputs" },
  { spec: networkSpec, sdkModule: "sdk/generated/network.ts", readmeSection: "Network:inputs" },
  { spec: cloudInitDiskSpec, sdkModule: "sdk/generated/cloudinitdisk.ts", readmeSection: "CloudInitDisk:inputs" },
];

/** Where the SDK types a generated module may name come from (relative to sdk/generated/). */
export const SDK_IMPORTS: Readonly<Record<string, string>> = {
  AuthArgs: "../auth",
  AuthOutput: "../auth",
  Volume: "../volume",
  CloudInitDisk: "../cloudinitdisk",
  Pool: "../volume",
  Domain: "../domain",
  DomainLike: "../snapshot",
};
