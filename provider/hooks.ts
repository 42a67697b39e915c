// Seams a test injects into a provider it builds itself (makeDomainProvider(hooks)
// and its siblings), as job-wait.ts takes `now`/`sleep`: pauses at race windows
// (a snapshot taken between the teardown check and the undefine; the daemon killed
// between a create's define and its next call) and the connection-layer call
// observers. The exported providers are built with none.
import type { CallHooks } from "./libvirt/connection";

export type PausePoint = "beforeUndefine" | "beforeShutdown" | "beforeDestroy" | "afterCreate" | "beforePreRevertSnapshot" | "beforeRevert";

export interface ProviderHooks extends CallHooks {
  /** Awaited at `point`; a test acts inside the window it opens. */
  pause?(point: PausePoint): Promise<void>;
}
