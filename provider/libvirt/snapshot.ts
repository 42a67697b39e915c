// Typed wrapper of a libvirt domain snapshot (virDomainSnapshotPtr).
import type { DomainHandle } from "./domain";
import { isNoSnapshot } from "./errors";
import { whileJobBusy } from "./job-wait";
import { virDomainSnapshotCreateFlags } from "./libvirt.gen";
import { native, type Ptr } from "./native";

export class SnapshotHandle {
  private freed = false;
  constructor(
    readonly domain: DomainHandle,
    readonly ptr: Ptr<"virDomainSnapshot">,
  ) {}

  static async lookup(domain: DomainHandle, name: string): Promise<SnapshotHandle | null> {
    try {
      const ptr = await domain.conn.call(
        `looking up snapshot "${name}" of domain "${domain.name()}"`,
        "virDomainSnapshotLookupByName",
        domain.ptr,
        name,
        0,
      );
      return new SnapshotHandle(domain, ptr!);
    } catch (err) {
      if (isNoSnapshot(err)) return null;
      throw err;
    }
  }

  /**
   * virDomainSnapshotCreateXML. Retried while another job holds the domain
   * (libvirt then has done nothing); see job-wait.ts.
   */
  static async create(domain: DomainHandle, xml: string, flags: number, label: string): Promise<SnapshotHandle> {
    const what = `creating snapshot ${label} of domain "${domain.name()}"`;
    const ptr = await whileJobBusy(what, () => domain.conn.call(what, "virDomainSnapshotCreateXML", domain.ptr, xml, flags));
    return new SnapshotHandle(domain, ptr!);
  }

  /** Replaces the metadata of an existing snapshot (VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE): its contents are untouched. */
  static async redefine(domain: DomainHandle, xml: string, label: string): Promise<SnapshotHandle> {
    return SnapshotHandle.create(domain, xml, virDomainSnapshotCreateFlags.VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE, label);
  }

  private op(what: string): string {
    return `${what} snapshot "${this.name()}" of domain "${this.domain.name()}"`;
  }

  name(): string {
    return native().sync.virDomainSnapshotGetName(this.ptr) ?? "";
  }

  async xml(flags = 0): Promise<string> {
    return (await this.domain.conn.call(this.op("reading XML of"), "virDomainSnapshotGetXMLDesc", this.ptr, flags))!;
  }

  async isCurrent(): Promise<boolean> {
    return (await this.domain.conn.call(this.op("checking"), "virDomainSnapshotIsCurrent", this.ptr, 0)) === 1;
  }

  /** Whether libvirt keeps metadata for it (false for snapshots made with VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA). */
  async hasMetadata(): Promise<boolean> {
    return (await this.domain.conn.call(this.op("checking metadata of"), "virDomainSnapshotHasMetadata", this.ptr, 0)) === 1;
  }

  /** The parent snapshot's name; null for a root snapshot. */
  async parentName(): Promise<string | null> {
    let parent: SnapshotHandle;
    try {
      const ptr = await this.domain.conn.call(this.op("reading parent of"), "virDomainSnapshotGetParent", this.ptr, 0);
      parent = new SnapshotHandle(this.domain, ptr!);
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
  async childNames(flags = 0): Promise<string[]> {
    const out: [unknown] = [null];
    const count = await this.domain.conn.call(this.op("listing children of"), "virDomainSnapshotListAllChildren", this.ptr, out, flags);
    const children = native()
      .takePointerArray(out[0], count)
      .map((p) => new SnapshotHandle(this.domain, p as Ptr<"virDomainSnapshot">));
    try {
      return children.map((c) => c.name());
    } finally {
      children.forEach((c) => c.free());
    }
  }

  /** virDomainSnapshotDelete, retried while another job holds the domain. */
  async delete(flags: number): Promise<void> {
    const what = this.op("deleting");
    await whileJobBusy(what, () => this.domain.conn.call(what, "virDomainSnapshotDelete", this.ptr, flags));
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    native().sync.virDomainSnapshotFree(this.ptr);
  }
}
