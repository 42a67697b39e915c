// Pauses injected at race windows so tests can act inside them (a snapshot
// taken between the teardown check and the undefine, say; the daemon killed
// between a create's define and its next call). Off unless
// LIBVIRT_PULUMI_TEST_PAUSE_<POINT>_MS is set; never set it in production.
export async function testPause(point: "beforeUndefine" | "beforeDestroy" | "afterCreate"): Promise<void> {
  const ms = Number(process.env[`LIBVIRT_PULUMI_TEST_PAUSE_${point.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}_MS`]);
  if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
}
