// issue 11 item 12(d), the binding's half: a function the loaded libvirt lacks is
// bound to a stand-in that throws LibvirtFunctionUnavailableError only when called,
// naming the function and the version that introduced it (libvirt-api.xml); every
// other function is bound as usual. The seam: bindFunctions takes koffi's lib.func.
import { describe, expect, it } from "vitest";
import { bindFunctions, type BoundFunction } from "../../provider/libvirt/native";
import { isFunctionUnavailable, LibvirtFunctionUnavailableError } from "../../provider/libvirt/errors";
import { FUNCTIONS } from "../../provider/libvirt/libvirt.gen";

/** koffi's lib.func for a library without `missing`: it throws as koffi does for an absent symbol. */
function libWithout(missing: string) {
  const bound: string[] = [];
  const bind = (decl: string): BoundFunction => {
    const name = /(\w+)\(/.exec(decl)![1];
    if (name === missing) throw new Error(`Cannot find function '${name}' in shared library`);
    bound.push(name);
    const fn = ((...args: unknown[]) => `${name}(${args.join(",")})`) as BoundFunction;
    fn.async = (...args: unknown[]) => (args.pop() as (e: unknown, r: unknown) => void)(null, `${name} async`);
    return fn;
  };
  return { bind, bound };
}

describe("bindFunctions", () => {
  it("binds every generated function, and a missing one throws only when called", async () => {
    const { bind, bound } = libWithout("virDomainListAllCheckpoints");
    const { sync, async } = bindFunctions(bind, "/usr/lib/libvirt.so.0");
    expect(bound.length).toBe(Object.keys(FUNCTIONS).length - 1);
    expect(sync.virDomainGetName("d")).toBe("virDomainGetName(d)");
    await expect(async.virDomainGetName("d")).resolves.toBe("virDomainGetName async");

    let thrown: unknown;
    try {
      sync.virDomainListAllCheckpoints();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(LibvirtFunctionUnavailableError);
    expect((thrown as Error).message).toBe(
      "libvirt function virDomainListAllCheckpoints is not available in /usr/lib/libvirt.so.0 (needs libvirt 5.6.0 or later; install a newer libvirt client library): Cannot find function 'virDomainListAllCheckpoints' in shared library",
    );
    const rejected = await async.virDomainListAllCheckpoints().catch((e: unknown) => e);
    expect(isFunctionUnavailable(rejected, "virDomainListAllCheckpoints")).toBe(true);
    // The fallback is keyed on the function: the same error for another one does not match.
    expect(isFunctionUnavailable(rejected, "virDomainHasManagedSaveImage")).toBe(false);
    expect(isFunctionUnavailable(new Error("virDomainListAllCheckpoints"), "virDomainListAllCheckpoints")).toBe(false);
  });
});
