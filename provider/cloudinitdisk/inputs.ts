// CloudInitDisk inputs: the rules that combine fields, and the normalized shape.
// Check turns every document into the file text it becomes (an object into
// YAML, `#cloud-config` for user-data and vendor-data) and meta-data into the
// mapping with its instance-id, so that diff compares what would be written.
// A failure never quotes a document's content (it may be a secret).
import { inputChecker } from "../resource/check";
import { inputSchema, type CheckedInputs } from "../resource/spec";
import type { CheckFailure } from "../validation";
import { containsUnknown } from "../unknowns";
import { metaDataObject, seedContent } from "./seed";
import { cloudInitDiskSpec } from "./spec";

/** Inputs after check: each document as the text written to the seed; metaData with its instance-id. */
export type CloudInitDiskInputs = Omit<CheckedInputs<typeof cloudInitDiskSpec>, "userData" | "metaData" | "networkConfig" | "vendorData"> & {
  userData: string;
  metaData: string;
  networkConfig?: string;
  vendorData?: string;
};

function crossFieldFailures(i: CheckedInputs<typeof cloudInitDiskSpec>): CheckFailure[] {
  if (i.metaData === undefined) return [];
  const meta = metaDataObject(i.metaData);
  return "problem" in meta ? [{ property: "metaData", reason: meta.problem as string }] : [];
}

const checkInputs = inputChecker(cloudInitDiskSpec, {
  crossField: (i) => crossFieldFailures(i as CheckedInputs<typeof cloudInitDiskSpec>),
  normalize: (i): CloudInitDiskInputs => {
    const docs = [i.userData, i.metaData, i.networkConfig, i.vendorData];
    // A preview with an unknown document: leave them all as they are (the content decides the instance-id).
    if (docs.some((d) => d !== undefined && containsUnknown(d))) return i as unknown as CloudInitDiskInputs;
    const meta = i.metaData === undefined ? undefined : metaDataObject(i.metaData);
    const seed = seedContent({
      userData: i.userData!,
      metaData: meta && !("problem" in meta) ? meta : undefined,
      networkConfig: i.networkConfig,
      vendorData: i.vendorData,
    });
    return {
      ...(i as CheckedInputs<typeof cloudInitDiskSpec>),
      userData: seed.userData,
      metaData: seed.metaData,
      networkConfig: seed.networkConfig,
      vendorData: seed.vendorData,
    };
  },
});

export const checkCloudInitDiskInputs = checkInputs;

/** The zod object of every CloudInitDisk input (each optional), as check parses them. */
export const cloudInitDiskInputSchema = inputSchema(cloudInitDiskSpec);
