// Typed wrapper of a libvirt domain snapshot (virDomainSnapshotPtr).
import type { DomainHandle } from "./domain";
import { isNoSnapshot } from "./errors";
import { native, type Ptr } from "./native";

export class SnapshotHandle {
  private freed = false;
  constructor(readonly domain: DomainHandle, readonly ptr: Ptr<"virDomainSnapshot">) {}

  static async lookup(domain: DomainHandle, name: string): Promise<SnapshotHandle | null> {
    try {
      const ptr = await domain.conn.call(`looking up snapshot "${name}" of domain "${domain.name()}"`, "virDomainSnapshotLookupByName", domain.ptr, name, 0);
      return new SnapshotHandle(domain, ptr!);
    } catch (err) {
      if (isNoSnapshot(err)) return null;
      throw err;
    }
  }

  static async create(domain: DomainHandle, xml: string, flags: number, label: string): Promise<SnapshotHandle> {
    const ptr = await domain.conn.call(`creating snapshot ${label} of domain "${domain.name()}"`, "virDomainSnapshotCreateXML", domain.ptr, xml, flags);
    return new SnapshotHandle(domain, ptr!);
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

  async childNames(): Promise<string[]> {
    const out: [unknown] = [null];
    const count = await this.domain.conn.call(this.op("listing children of"), "virDomainSnapshotListAllChildren", this.ptr, out, 0);
    const children = native().takePointerArray(out[0], count).map((p) => new SnapshotHandle(this.domain, p as Ptr<"virDomainSnapshot">));
    try {
      return children.map((c) => c.name());
    } finally {
      children.forEach((c) => c.free());
    }
  }

  async delete(flags: number): Promise<void> {
    await this.domain.conn.call(this.op("deleting"), "virDomainSnapshotDelete", this.ptr, flags);
  }

  free(): void {
    if (this.freed) return;
    this.freed = true;
    native().sync.virDomainSnapshotFree(this.ptr);
  }
}
