// Removes what an interrupted earlier run left behind: domains and image
// directories named with the test prefix. Uses virsh, not the provider, so a
// provider bug cannot hide leftovers.
import { readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { QEMU_URI, TEST_PREFIX, domainNames, virshTry } from "./host";

export default function sweep(): void {
  for (const name of domainNames(QEMU_URI).filter((n) => n.startsWith(TEST_PREFIX))) {
    virshTry(QEMU_URI, "destroy", name);
    virshTry(QEMU_URI, "undefine", name, "--snapshots-metadata", "--managed-save", "--checkpoints-metadata", "--nvram");
  }
  for (const entry of readdirSync("/var/lib/libvirt/images").filter((n) => n.startsWith(TEST_PREFIX))) {
    rmSync(join("/var/lib/libvirt/images", entry), { recursive: true, force: true });
  }
}
