// libvirt's UUID form, 8-4-4-4-12 hex digits: how a lookup tells a UUID from a name.
export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
