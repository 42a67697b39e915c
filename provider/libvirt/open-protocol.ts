// Messages between the connection pool and the opener worker thread.
import type { VirErrorFields } from "./native";

export interface Credentials {
  username: string;
  password: string;
}

export interface OpenRequest {
  id: number;
  /** null: libvirt's own default (LIBVIRT_DEFAULT_URI, then its built-in choice). */
  uri: string | null;
  auth?: Credentials;
}

export type OpenReply = { id: number; address: bigint; uri: string } | { id: number; error: VirErrorFields } | { id: number; fatal: string };
