// Replacements that keep the snapshot tree (README's "Replacements that keep the
// snapshot tree"). With keepSnapshotsOnReplace: true, a replacement of a domain
// that has snapshots, on the same disks, archives the snapshots' metadata in the
// delete (as the metadata-only cascade does: the contents stay in the images),
// and the create defines the new domain with the old UUID and redefines them from
// that archive (restore.ts's rules). Pure: the facts of the old domain and of the
// change go in; whether the replacement may go ahead, keeping the tree or not,
// and the delete's steps come out. provider/domain/provider.ts gathers the facts,
// carries the delete out and passes the archive to the create (replace-note.ts).
import { archivePlace, blockers, describeArchive, planDomainDelete, planDomainReplace } from "./domain";
import type { ArchiveLocation, DomainFacts, TeardownDecision, TeardownOptions } from "./domain";
import { nameList, plural } from "./shared";

/** The inputs whose change a kept tree survives: the new domain uses the same images, on the same hypervisor, for the same architecture. */
export const KEEPABLE_REPLACE_KEYS: readonly string[] = ["name", "type", "machine", "firmware"];

/** What the diff knows of the change, besides the old domain's facts. */
export interface ReplaceChange {
  /** The inputs whose change forces the replacement. */
  replacedBy: string[];
  /** The new inputs' keepSnapshotsOnReplace. */
  keepSnapshotsOnReplace: boolean;
  /** The new inputs' persistent. */
  persistent: boolean;
  /** The new inputs' disks (or the disks of a raw xml input) against the old ones; unknown in a preview that cannot tell yet. */
  disks: "same" | "changed" | "unknown";
  /** The old domain's UUID, which the new one gets. */
  uuid: string;
  /** A <uuid> the new raw xml input gives, when it is not the old domain's. */
  otherUuid?: string;
  /**
   * For each snapshot whose contents cannot be shown to be in the images, why
   * (the restore's check of teardown/restore.ts, run on the live domain): the
   * create would skip it, so its metadata would not come back.
   */
  unverifiable: ReadonlyMap<string, string>;
}

export interface ReplacePlan {
  decision: TeardownDecision;
  /** The replacement keeps the tree: the delete archives (and the create redefines) the snapshots. */
  keepsTree: boolean;
}

/**
 * The delete of a kept replacement: the delete with the metadata-only cascade
 * (libvirt's metadata goes, the contents never), its archive step marked as the
 * replacement's (the new domain redefines from it).
 */
function keptDelete(facts: DomainFacts, opts: TeardownOptions): TeardownDecision {
  const decision = planDomainDelete(facts, { ...opts, deleteSnapshotsOnDestroy: true, deleteSnapshotDataOnDestroy: false });
  if (!decision.allowed) return decision;
  return { allowed: true, steps: decision.steps.map((s) => (s.call === "archiveSnapshots" ? { ...s, forReplacement: true } : s)) };
}

/** Why the old domain's snapshots cannot be archived for the new one (the delete checks these again). */
function archiveReasons(facts: DomainFacts, opts: TeardownOptions): string[] {
  const out: string[] = [];
  if (!facts.persistent)
    out.push(`it is transient: libvirt drops a transient domain's snapshot metadata when it stops, and the replacement needs a persistent domain`);
  if (facts.inMemoryDriver || facts.firstDisk === undefined)
    out.push(
      facts.inMemoryDriver
        ? `libvirt's test driver keeps no disk images, so no snapshot contents stay behind to redefine the snapshots on`
        : `it has no disk image, so no snapshot contents stay behind to redefine the snapshots on`,
    );
  else {
    const place = archivePlace(facts);
    if ("why" in place)
      out.push(
        `there is nowhere to write the archive the new domain takes the snapshots back from: ${place.why}; put the disk images in a storage pool`,
      );
  }
  // Managed save and checkpoints follow the saved options, as for any delete.
  const { snapshots: _snapshots, ...rest } = facts;
  out.push(...blockers({ ...rest, snapshots: [] }, opts));
  return out;
}

/** "1 snapshot's", "2 snapshots'". */
const snapshotsOf = (n: number) => (n === 1 ? "1 snapshot's" : `${n} snapshots'`);

/** `replacedBy`: the replacing inputs; empty in the delete, which does not know them. */
function keepRefusal(facts: DomainFacts, replacedBy: string[], reasons: string[]): TeardownDecision {
  const keys = replacedBy.map((k) => `\`${k}\``).join(", ");
  const change = replacedBy.length > 0 ? ` (changing ${keys})` : "";
  const revert = replacedBy.length > 0 ? `revert the change to ${keys}` : "revert the replacing change";
  return {
    allowed: false,
    message:
      `refusing to replace domain "${facts.name}" keeping its snapshot tree (nothing was changed on this domain or its snapshots): ` +
      `keepSnapshotsOnReplace: true has the replacement${change} archive its ${plural(facts.snapshots.length, "snapshot")} ` +
      `(${nameList(facts.snapshots)}) and redefine ${facts.snapshots.length === 1 ? "it" : "them"} on the new domain, but ${reasons.map((r, i) => `(${i + 1}) ${r}`).join("; ")}. ` +
      `Fix that and run it again; or drop keepSnapshotsOnReplace and let the snapshots' metadata go with the old domain ` +
      `(deleteSnapshotsOnDestroy: true, recorded by an earlier \`pulumi up\`); or ${revert} to keep the domain.`,
  };
}

/**
 * The delete of a replacement that keeps the tree, as the delete decides it again
 * (the facts may have changed since the diff): an archive step, the stop, and the
 * undefine with VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA; no snapshot data is ever
 * deleted. Without snapshots by then it is the ordinary delete.
 */
export function planKeptDelete(facts: DomainFacts, opts: TeardownOptions): ReplacePlan {
  if (facts.snapshots.length === 0) return { decision: planDomainDelete(facts, opts), keepsTree: false };
  const reasons = archiveReasons(facts, opts);
  if (reasons.length > 0) return { decision: keepRefusal(facts, [], reasons), keepsTree: false };
  return { decision: keptDelete(facts, opts), keepsTree: true };
}

/**
 * A Domain replacement, decided in diff before anything happened. Without
 * keepSnapshotsOnReplace (or without snapshots) it is planDomainReplace: the
 * delete rules with the saved options; its refusal then also names
 * keepSnapshotsOnReplace when the change could keep the tree. With it, the
 * replacement keeps the tree when every replacing input is keepable, the disks
 * stay, the domains are persistent, the archive has a place and every snapshot's
 * contents are shown to be in the images; else it is refused, saying why. The
 * option is read from the new inputs (the diff passes the decision on to the
 * delete and the create): it may come with the replacing change in one `pulumi up`.
 */
export function planReplacement(
  facts: DomainFacts,
  opts: TeardownOptions,
  change: ReplaceChange,
  newOpts: Partial<TeardownOptions> = {},
): ReplacePlan {
  if (!change.keepSnapshotsOnReplace || facts.snapshots.length === 0) {
    const decision = planDomainReplace(facts, opts, change.replacedBy, newOpts);
    const couldKeep = facts.persistent && change.persistent && change.replacedBy.every((k) => KEEPABLE_REPLACE_KEYS.includes(k));
    if (decision.allowed || facts.snapshots.length === 0 || !couldKeep) return { decision, keepsTree: false };
    return {
      decision: {
        allowed: false,
        message:
          `${decision.message} Or keep the snapshot tree across the replacement: set keepSnapshotsOnReplace: true on the Domain ` +
          `(it may come with this change, in the same \`pulumi up\`): the old domain's snapshots are archived, and redefined on the new one.`,
      },
      keepsTree: false,
    };
  }
  const reasons: string[] = [];
  const other = change.replacedBy.filter((k) => !KEEPABLE_REPLACE_KEYS.includes(k));
  if (other.length > 0)
    reasons.push(
      `changing ${other.map((k) => `\`${k}\``).join(", ")} moves the domain ${other.includes("uri") ? "to another hypervisor, away from its images" : "to another architecture, for which the snapshots' saved state is not made"}; ` +
        `only a change of ${KEEPABLE_REPLACE_KEYS.map((k) => `\`${k}\``).join(", ")} keeps the tree`,
    );
  if (!change.persistent)
    reasons.push(`the new domain is transient (persistent: false), and libvirt drops a transient domain's snapshot metadata when it stops`);
  if (change.disks === "changed")
    reasons.push(`the disks change too, and the snapshots' contents are in the old disks' images: change the disks in an \`up\` of their own`);
  if (change.disks === "unknown")
    reasons.push(
      `the new disks are not known yet (they come from a resource this \`up\` changes), so it cannot be shown that they are the same images`,
    );
  if (change.otherUuid !== undefined)
    reasons.push(
      `the xml input gives <uuid> ${change.otherUuid}, but the new domain takes the old one's, ${change.uuid}: drop <uuid> from the xml or give that one`,
    );
  for (const [name, why] of change.unverifiable) reasons.push(`snapshot "${name}" could not be redefined: ${why}`);
  reasons.push(...archiveReasons(facts, opts));
  if (reasons.length > 0) return { decision: keepRefusal(facts, change.replacedBy, reasons), keepsTree: false };
  return { decision: keptDelete(facts, opts), keepsTree: true };
}

/** How a Domain's restoreSnapshotsFrom names an archive location, as a program would write it. */
export function restoreValue(to: ArchiveLocation): string {
  return to.kind === "file" ? JSON.stringify(to.path) : `{ pool: ${JSON.stringify(to.pool)}, name: ${JSON.stringify(to.name)} }`;
}

/** What the delete of a kept replacement prints (after the archive step's own line). */
export function describeKeptDelete(domain: string, to: ArchiveLocation, snapshots: string[]): string {
  return `domain "${domain}": replaced keeping its snapshot tree: the new domain takes ${snapshots.length === 1 ? "the snapshot" : `the ${snapshots.length} snapshots`} (${nameList(snapshots)}) back from ${describeArchive(to)}`;
}

/**
 * What a create that was to take the tree back says when it fails: the old
 * domain is gone, its snapshots are in the archive and the images, and how to
 * take them back.
 */
export function keptTreeAdvice(oldName: string, to: ArchiveLocation, snapshots: number): string {
  return (
    `The old domain "${oldName}" was deleted by this replacement; its ${snapshotsOf(snapshots)} metadata is in the archive ${describeArchive(to)} ` +
    `and their contents stay in the disk images, so nothing is lost. To take them back, set restoreSnapshotsFrom: ${restoreValue(to)} ` +
    `on the Domain (on the same disks) and run \`pulumi up\` again; \`virsh snapshot-create --redefine\` of each archived snapshot's xml works too`
  );
}

/** The kept delete's refusal when its archive cannot be written (archive.ts): nothing changed yet. */
export function archiveRefusedForReplacement(domain: string, snapshots: number, where: string, why: string): string {
  return (
    `refusing to replace domain "${domain}" keeping its snapshot tree (nothing was changed on this domain or its snapshots): ` +
    `its ${snapshotsOf(snapshots)} metadata is archived before the old domain goes, for the new one to redefine, and writing the archive to ${where} failed: ${why}. ` +
    `Make that place writable (or free space there) and run \`pulumi up\` again, or revert the replacing change to keep the domain.`
  );
}
