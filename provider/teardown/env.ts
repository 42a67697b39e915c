// The one truthy parser for every one-destroy environment override
// (LIBVIRT_PULUMI_DELETE_*_ON_DESTROY, LIBVIRT_PULUMI_KEEP_SNAPSHOT_DATA_ON_DESTROY):
// 1, true or yes switch one on.
export const isTruthyEnv = (value: string | undefined): boolean => /^(1|true|yes)$/i.test(value ?? "");
