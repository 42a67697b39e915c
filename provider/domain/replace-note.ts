// The note a Domain's diff leaves for the rest of the same replacement (README's
// "Replacements that keep the snapshot tree"). Pulumi gives delete only the old
// outputs and create only the new inputs, but every dynamic resource of one
// program run is served by one provider process. So the diff that decided that
// a replacement keeps the snapshot tree writes it here, keyed by the old domain's
// UUID; the stack's Snapshot resources' diffs read it (their `domain`, unknown
// while the Domain is replaced, comes out as it was: the new domain gets the old
// UUID); the delete records the archive it wrote; and the create of the new
// domain takes the note (by the new name and uri) and redefines from that
// archive, the one just written, never an older one. The decisions are the
// teardown rules' (../teardown/keep-replace.ts); this only carries them.
import type { ArchiveLocation } from "../teardown/domain";

export interface ReplaceNote {
  oldUuid: string;
  oldName: string;
  /** The new inputs' name and uri (as check left them): how the create finds the note. */
  newName: string;
  newUri: string | undefined;
  /** Set by the delete: the old domain is gone. */
  deleted: boolean;
  /** Set by the delete when it archived: where, and the snapshots in it. */
  archive?: ArchiveLocation;
  snapshots?: string[];
}

const notes = new Map<string, ReplaceNote>();

/** The diff decided that replacing the domain `note.oldUuid` keeps its tree. */
export function noteKeptReplace(note: Omit<ReplaceNote, "deleted">): void {
  notes.set(note.oldUuid, { ...note, deleted: false });
}

/** The diff decided otherwise (or refused): no note for that domain. */
export function forgetKeptReplace(oldUuid: string): void {
  notes.delete(oldUuid);
}

/** The note for the domain of this UUID, while its replacement is planned or under way. */
export function keptReplaceOf(oldUuid: string | undefined): ReplaceNote | undefined {
  return oldUuid === undefined ? undefined : notes.get(oldUuid);
}

/** The create's part: the note of a deleted domain that this one (by name and uri) replaces, taken off. */
export function takeKeptReplaceFor(name: string, uri: string | undefined): ReplaceNote | undefined {
  for (const [key, note] of notes) {
    if (!note.deleted || note.newName !== name || note.newUri !== uri) continue;
    notes.delete(key);
    return note;
  }
  return undefined;
}
