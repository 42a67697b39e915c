// How the one-destroy environment overrides (LIBVIRT_PULUMI_DELETE_*_ON_DESTROY,
// LIBVIRT_PULUMI_KEEP_SNAPSHOT_DATA_ON_DESTROY) are switched on: 1, true or yes.
export const isTruthyEnv = (value: string | undefined): boolean => /^(1|true|yes)$/i.test(value ?? "");
