// Pauses injected at race windows so tests can act inside them (a snapshot
// taken between the teardown check and the undefine, say; the daemon killed
// between a create's define and its next call). Off unless
// LIBVIRT_PULUMI_TEST_PAUSE_<POINT>_MS is set; never set it in production.
export async function testPause(point: "beforeUndefine" | "beforeDestroy" | "afterCreate"): Promise<void> {
  const ms = Number(process.env[`LIBVIRT_PULUMI_TEST_PAUSE_${point.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}_MS`]);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * In-process test hooks at the connection layer, called synchronously around every
 * libvirt call that may change something (provider/libvirt/calls.ts): "before" just
 * before it is handed to its thread, "sent" right after. A test stops or kills the
 * daemon there to fail exactly that call. Unset unless a test sets it.
 */
export const testHooks: {
  changingCall?: (fn: string, phase: "before" | "sent") => void;
  /** Called synchronously just before any libvirt call on a connection (read-only ones included). */
  anyCall?: (fn: string) => void;
} = {};
