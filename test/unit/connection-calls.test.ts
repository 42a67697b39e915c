// Item 5 of issue 11, the connection layer's rules:
// - which calls count as changing state (a lease that sent one is never retried);
// - one call at a time per leased connection: calls made at once on one lease (a
//   Promise.all) are queued, so each failure reads its own error from libvirt's
//   per-connection error slot, never a neighbour's.
import { afterAll, describe, expect, it } from "vitest";
import { built, provider } from "../helpers/lib";

const { withConnection } = provider;
const { changesState } = built<typeof import("../../provider/libvirt/calls")>("provider/libvirt/calls");

afterAll(() => provider.closeAllConnections());

describe("changesState: which libvirt calls may change something", () => {
  it.each([
    "virDomainDefineXMLFlags",
    "virDomainCreateXML",
    "virDomainCreate",
    "virDomainUndefineFlags",
    "virDomainDestroyFlags",
    "virDomainSetAutostart",
    "virDomainSnapshotCreateXML",
    "virDomainSnapshotDelete",
    "virStoragePoolDefineXML",
    "virStoragePoolBuild",
    "virStoragePoolCreate",
    "virStoragePoolDestroy",
    "virStoragePoolDelete",
    "virStoragePoolUndefine",
    "virStoragePoolSetAutostart",
    "virStoragePoolRefresh",
    "virStorageVolCreateXML",
    "virStorageVolDelete",
    "virStorageVolResize",
    "virStorageVolUpload",
    "virStreamSend",
    "virStreamFinish",
    "virDomainSomethingNew",
  ])("%s changes state", (fn) => expect(changesState(fn)).toBe(true));

  it.each([
    "virDomainLookupByName",
    "virDomainLookupByUUIDString",
    "virDomainGetXMLDesc",
    "virDomainGetState",
    "virDomainGetAutostart",
    "virDomainIsActive",
    "virDomainIsPersistent",
    "virDomainHasManagedSaveImage",
    "virDomainListAllSnapshots",
    "virDomainListAllCheckpoints",
    "virDomainSnapshotLookupByName",
    "virDomainSnapshotGetXMLDesc",
    "virDomainSnapshotGetParent",
    "virDomainSnapshotIsCurrent",
    "virDomainSnapshotHasMetadata",
    "virDomainSnapshotListAllChildren",
    "virConnectGetCapabilities",
    "virConnectListAllDomains",
    "virConnectListAllStoragePools",
    "virStoragePoolLookupByName",
    "virStoragePoolGetXMLDesc",
    "virStoragePoolIsActive",
    "virStoragePoolListAllVolumes",
    "virStorageVolLookupByPath",
    "virStorageVolGetXMLDesc",
    "virStorageVolDownload",
    "virStreamNew",
    "virStreamRecv",
  ])("%s is read-only", (fn) => expect(changesState(fn)).toBe(false));
});

describe("one call at a time per leased connection", () => {
  it("failures of calls made at once on one lease each report their own error", async () => {
    const names = Array.from({ length: 24 }, (_, i) => `missing-pool-${i}`);
    const errors = await withConnection({ uri: "test:///default" }, (conn) =>
      Promise.all(
        names.map((n) =>
          conn.call(`looking up storage pool "${n}"`, "virStoragePoolLookupByName", conn.ptr, n).then(
            () => undefined,
            (e: Error) => e,
          ),
        ),
      ),
    );
    errors.forEach((err, i) => {
      expect(err, names[i]).toBeInstanceOf(provider.LibvirtError);
      // libvirt's text names the pool it did not find: it must be this call's.
      expect(err!.message, names[i]).toMatch(new RegExp(`looking up storage pool "${names[i]}".*'${names[i]}'$`));
    });
  });
});
