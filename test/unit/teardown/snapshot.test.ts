// The Snapshot delete rules: whether the data is kept, and the advice when the driver refuses.
import { describe, expect, it } from "vitest";
import { KEEP_SNAPSHOT_DATA_ENV, keepsDataOnDestroy, snapshotDeleteFailure } from "../../../provider/teardown/snapshot";

describe("keepsDataOnDestroy", () => {
  const rows: Array<[string, { deleteDataOnDestroy?: boolean }, NodeJS.ProcessEnv, boolean]> = [
    ["default deletes the data", {}, {}, false],
    ["deleteDataOnDestroy: true deletes it", { deleteDataOnDestroy: true }, {}, false],
    ["deleteDataOnDestroy: false keeps it", { deleteDataOnDestroy: false }, {}, true],
    ["the override keeps it whatever the option says", { deleteDataOnDestroy: true }, { [KEEP_SNAPSHOT_DATA_ENV]: "yes" }, true],
    ["the override is case-insensitive", {}, { [KEEP_SNAPSHOT_DATA_ENV]: "TRUE" }, true],
    ["an override of 0 is off", {}, { [KEEP_SNAPSHOT_DATA_ENV]: "0" }, false],
    ["an empty override is off", {}, { [KEEP_SNAPSHOT_DATA_ENV]: "" }, false],
  ];
  it.each(rows)("%s", (_label, props, env, keeps) => expect(keepsDataOnDestroy(props, env)).toBe(keeps));
  it("the variable name is what the README documents", () => expect(KEEP_SNAPSHOT_DATA_ENV).toBe("LIBVIRT_PULUMI_KEEP_SNAPSHOT_DATA_ON_DESTROY"));
});

describe("snapshotDeleteFailure", () => {
  const where = 'snapshot "s1" of domain "web"';
  const cause = "unsupported [VIR_ERR_OPERATION_UNSUPPORTED]";
  it("keeping the data: the driver can only delete with it, so deleteDataOnDestroy: true", () => {
    expect(snapshotDeleteFailure(where, cause, true, {})).toBe(
      `cannot remove only the metadata of ${where}: ${cause}. Nothing was deleted. ` +
        "This driver deletes snapshots only with their data: set deleteDataOnDestroy: true (and run `pulumi up`)",
    );
  });
  it("keeping the data because of the override: also says to unset it", () => {
    expect(snapshotDeleteFailure(where, cause, true, { [KEEP_SNAPSHOT_DATA_ENV]: "1" })).toMatch(
      /set deleteDataOnDestroy: true \(and run `pulumi up`\), and unset LIBVIRT_PULUMI_KEEP_SNAPSHOT_DATA_ON_DESTROY$/,
    );
  });
  it("deleting the data: offers the metadata-only delete, by option or for one destroy", () => {
    expect(snapshotDeleteFailure(where, cause, false, {})).toBe(
      `cannot delete ${where} with its data: ${cause}. Nothing was deleted. ` +
        "To remove only libvirt's metadata and keep the data in the disk images, set deleteDataOnDestroy: false " +
        "(and run `pulumi up`), or set LIBVIRT_PULUMI_KEEP_SNAPSHOT_DATA_ON_DESTROY=1 for this destroy",
    );
  });
});
