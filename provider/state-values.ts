// Values as Pulumi stores them.

/** Drops members that are undefined (as JSON does): a protobuf Struct, and so Pulumi's state, cannot hold them. */
export function withoutUndefined<T extends object>(o: T): T {
  return JSON.parse(JSON.stringify(o)) as T;
}
