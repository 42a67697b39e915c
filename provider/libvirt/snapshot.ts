// Typed wrapper of a libvirt domain snapshot (virDomainSnapshotPtr).
// It holds its connection, pointer and domain name (as libvirt-go-module's
// DomainSnapshot does), so it needs nothing from domain.ts.
import type { Connection } from "./connection";
import { isNoSnapshot } from "./errors";
import { whileJobBusy } from "./job-wait";
import {
  virDomainSnapshotXMLFlags,
  type virDomainSnapshotDeleteFlags,
  type virDomainSnapshotListFlags,
  type virDomainSnapshotRevertFlags,
} from "./libvirt.gen";
import { native, type Ptr } from "./native";

export class SnapshotHandle {
  private freed = false;
  constructor(
    readonly conn: Connection,
    readonly ptr: Ptr<"virDomainSnapshot">,
    /** The owning domain's name, for messages. */
    readonly domainName: string,
  ) {}

  private op(what: string): string {
    return `${what} snapshot "${this.name()}" of domain "${this.domainName}"`;
  }

  name(): string {
    return native().sync.virDomainSnapshotGetName(this.ptr) ?? "";
  }

  /** The snapshot XML; `secure` keeps what the plain form hides (passwords in the domain XML it saved). */
  async xml(opts: { secure?: boolean } = {}): Promise<string> {
    const flags = opts.secure ? virDomainSnapshotXMLFlags.VIR_DOMAIN_SNAPSHOT_XML_SECURE : 0;
    return (await this.conn.call(this.op("reading XML of"), "virDomainSnapshotGetXMLDesc", this.ptr, flags))!;
  }

  async isCurrent(): Promise<boolean> {
    return (await this.conn.call(this.op("checking"), "virDomainSnapshotIsCurrent", this.ptr, 0)) === 1;
  }

  /** Whether libvirt keeps metadata for it (false for snapshots made with VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA). */
  async hasMetadata(): Promise<boolean> {
    return (await this.conn.call(this.op("checking metadata of"), "virDomainSnapshotHasMetadata", this.ptr, 0)) === 1;
  }

  /** The parent snapshot's name; null for a root snapshot. */
  async parentName(): Promise<string | null> {
    let parent: SnapshotHandle;
    try {
      const ptr = await this.conn.call(this.op("reading parent of"), "virDomainSnapshotGetParent", this.ptr, 0);
      parent = new SnapshotHandle(this.conn, ptr!, this.domainName);
    } catch (err) {
      // libvirt answers VIR_ERR_NO_DOMAIN_SNAPSHOT for "snapshot has no parent".
      if (isNoSnapshot(err)) return null;
      throw err;
    }
    try {
      return parent.name();
    } finally {
      parent.free();
    }
  }

  /** Names of the direct children (flags: e.g. VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS for all descendants). */
  async childNames(flags: virDomainSnapshotListFlags | 0 = 0): Promise<string[]> {
    const out: [unknown] = [null];
    const count = await this.conn.call(this.op("listing children of"), "virDomainSnapshotListAllChildren", this.ptr, out, flags);
    const children = native()
      .takePointerArray(out[0], count)
      .map((p) => new SnapshotHandle(this.conn, p as Ptr<"virDomainSnapshot">, this.domainName));
    try {
      return children.map((c) => c.name());
    } finally {
      children.forEach((c) => c.free());
    }
  }

  /** virDomainSnapshotDelete, retried while another job holds the domain. */
  async delete(flags: virDomainSnapshotDeleteFlags | 0): Promise<void> {
    const what = this.op("deleting");
    await whileJobBusy(what, () => this.conn.call(what, "virDomainSnapshotDelete", this.ptr, flags));
  }

  /**
   * virDomainRevertToSnapshot: the domain goes back to this snapshot (its disks,
   * its definition and, for a snapshot with memory, the running guest), throwing
   * away whatever happened since. Retried while another job holds the domain.
   * @see https://libvirt.org/html/libvirt-libvirt-domain-snapshot.html#virDomainRevertToSnapshot
   */
  async revert(flags: virDomainSnapshotRevertFlags | 0): Promise<void> {
    const what = this.op("reverting to");
    await whileJobBusy(what, () => this.conn.call(what, "virDomainRevertToSnapshot", this.ptr, flags));
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    native().sync.virDomainSnapshotFree(this.ptr);
  }
}
