// Storage: the Pool and Volume providers, and the pieces behind them for
// tests and tools (`require("libvirt-pulumi/provider").storage`).
import { StoragePoolHandle, StorageVolHandle, withPool, allDomainDefinitions } from "../libvirt/storage";
import { downloadRange, uploadFile, UPLOAD_CHUNK_BYTES } from "../libvirt/stream";
import { inspectSourceImage, internalSnapshots, isLocalUri } from "./image-probe";
import { checkPoolInputs } from "./pool-inputs";
import { buildPoolXml, parsePoolXml } from "./pool-xml";
import { isQcow2, parseQcow2Header, parseSnapshotTable } from "./qcow2";
import { formatSize, parseSize } from "./size";
import * as teardown from "../teardown";
import { checkVolumeInputs } from "./volume-inputs";
import { buildVolumeXml, domainXmlUsesVolume, parseVolumeXml } from "./volume-xml";

export { poolProvider, type PoolOutputs } from "./pool-provider";
export { volumeProvider, type VolumeOutputs } from "./volume-provider";
export type { PoolInputs } from "./pool-inputs";
export type { VolumeInputs } from "./volume-inputs";

export const storage = {
  StoragePoolHandle, StorageVolHandle, withPool, allDomainDefinitions,
  uploadFile, downloadRange, UPLOAD_CHUNK_BYTES,
  inspectSourceImage, internalSnapshots, isLocalUri,
  checkPoolInputs, checkVolumeInputs,
  buildPoolXml, parsePoolXml, buildVolumeXml, parseVolumeXml, domainXmlUsesVolume,
  isQcow2, parseQcow2Header, parseSnapshotTable,
  parseSize, formatSize,
  teardown,
};
