// Storage: the Pool and Volume providers, and the pieces behind them for
// tests and tools (`require("libvirt-pulumi/provider").storage`).
import { StoragePoolHandle, StorageVolHandle, withPool, allDomainDefinitions } from "../libvirt/storage";
import { downloadRange, uploadFile, UPLOAD_CHUNK_BYTES } from "../libvirt/stream";
import { inspectSourceImage, internalSnapshots, isLocalUri, readBackingChain } from "./image-probe";
import { checkPoolInputs } from "./pool-inputs";
import { buildPoolXml, parsePoolXml } from "./pool-xml";
import { isQcow2, parseQcow2Header, parseQcow2References, parseSnapshotTable, recognisedFormat } from "./qcow2";
import { formatSize, parseSize } from "./size";
import * as teardown from "../teardown";
import { checkVolumeInputs, sourceImageProblem } from "./volume-inputs";
import { buildVolumeXml, domainXmlReferences, domainXmlUsesVolume, parseVolumeXml, snapshotXmlReferences } from "./volume-xml";
import { surroundings } from "./volume-facts";

export { poolProvider, type PoolOutputs } from "./pool-provider";
export { volumeProvider, type VolumeOutputs } from "./volume-provider";
export type { PoolInputs } from "./pool-inputs";
export type { VolumeInputs } from "./volume-inputs";

export const storage = {
  StoragePoolHandle,
  StorageVolHandle,
  withPool,
  allDomainDefinitions,
  uploadFile,
  downloadRange,
  UPLOAD_CHUNK_BYTES,
  inspectSourceImage,
  internalSnapshots,
  isLocalUri,
  readBackingChain,
  checkPoolInputs,
  checkVolumeInputs,
  sourceImageProblem,
  buildPoolXml,
  parsePoolXml,
  buildVolumeXml,
  parseVolumeXml,
  domainXmlUsesVolume,
  domainXmlReferences,
  snapshotXmlReferences,
  surroundings,
  isQcow2,
  parseQcow2Header,
  parseQcow2References,
  parseSnapshotTable,
  recognisedFormat,
  parseSize,
  formatSize,
  teardown,
};
