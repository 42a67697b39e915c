// Combining libvirt flags. libvirt.gen.ts brands each flag group's values with
// the group (go-libvirt's flagMap: one type per group), and every flags argument
// takes only its own group or 0. JavaScript's bitwise operators give a plain
// number, which no flags argument takes: these keep the group.
import type { Flags } from "./libvirt.gen";

/** The bitwise OR of flags of one group; a 0 adds nothing (`cond ? F.X : 0`). */
export function orFlags<G extends string>(...values: Array<Flags<G> | 0>): Flags<G> {
  let bits = 0;
  for (const v of values) bits |= v;
  return bits as Flags<G>;
}

/** `set` with the `drop` flags cleared. */
export function withoutFlags<G extends string>(set: Flags<G> | 0, ...drop: Array<Flags<G>>): Flags<G> {
  return (set & ~orFlags(...drop)) as Flags<G>;
}
