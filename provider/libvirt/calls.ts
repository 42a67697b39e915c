// Which libvirt calls may change something on the hypervisor. A reconnect retry
// re-runs an operation from the start, so it is allowed only while nothing but
// read-only calls were sent on the lease: once a changing call was handed to
// libvirt, the daemon may have carried it out even though no answer came back.
//
// Read-only by name: libvirt's naming is regular (Lookup*, Get*, List*, Is*,
// Has*, NumOf*), and everything else counts as changing, so a new call is
// treated with caution until it is added here.

const READ_ONLY =
  /^vir(?:Connect|Domain|DomainSnapshot|DomainCheckpoint|StoragePool|StorageVol|Network|Secret|Interface|NodeDevice|NWFilter)(?:Lookup|Get|List|Is|Has|NumOf)[A-Z]/;
/** Read-only calls whose names do not say so: a local stream object, reading a volume's data, a domain's addresses. */
const ALSO_READ_ONLY = new Set(["virStreamNew", "virStorageVolDownload", "virStreamRecv", "virDomainInterfaceAddresses"]);

/** True when `fn` may change state on the hypervisor (define, create, start, delete, set, upload, ...). */
export function changesState(fn: string): boolean {
  return !READ_ONLY.test(fn) && !ALSO_READ_ONLY.has(fn);
}
