// A provider's check and create as the engine calls them, on one hypervisor:
// checked inputs (check must find no failures), a create that must succeed, or
// one that must fail (its error returned). For tests of any resource.
import { expect } from "vitest";

type Outs = Record<string, any>;
export type CheckAndCreate = { check?: (olds: any, news: any) => Promise<any>; create: (inputs: any) => Promise<any> };

export function providerCalls(uri: string) {
  async function checked(p: CheckAndCreate, inputs: Record<string, unknown>): Promise<Outs> {
    const { inputs: out, failures } = await p.check!({}, { uri, ...inputs });
    expect(failures ?? []).toEqual([]);
    return out;
  }
  return {
    checked,
    async create(p: CheckAndCreate, inputs: Record<string, unknown>): Promise<{ id: string; outs: Outs; inputs: Outs }> {
      const c = await checked(p, inputs);
      const { id, outs } = await p.create(c);
      return { id, outs, inputs: c };
    },
    /** The create's error (it must fail). */
    async createFails(p: CheckAndCreate, inputs: Record<string, unknown>): Promise<Error> {
      const c = await checked(p, inputs);
      const err = await p.create(c).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(err, "the create must fail").toBeInstanceOf(Error);
      return err!;
    },
  };
}
