// What scripts/gen-from-spec.mjs derives from the resource specs (the SDK's
// modules in sdk/generated/, the README's input tables) is committed: this fails
// when a spec changed and `npm run gen:spec` was not run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GENERATED, SDK_IMPORTS } from "../../provider/specs";
import { renderInputTable, renderSdkModule, replaceMarked } from "../../provider/resource/render";

const root = join(__dirname, "../..");
const read = (file: string) => readFileSync(join(root, file), "utf8");

describe.each(GENERATED.map((g) => [g.spec.name, g] as const))("%s", (_name, g) => {
  it(`${g.sdkModule} is what the spec renders (else: npm run gen:spec)`, () => {
    expect(read(g.sdkModule)).toBe(renderSdkModule(g.spec, SDK_IMPORTS));
  });

  it(`the README's ${g.readmeSection} table is what the spec renders (else: npm run gen:spec)`, () => {
    const readme = read("README.md");
    expect(replaceMarked(readme, g.readmeSection, renderInputTable(g.spec))).toBe(readme);
  });

  it("every input has a doc and a change rule; every required input says why", () => {
    for (const [key, input] of Object.entries(g.spec.inputs)) {
      expect(input.doc.length, key).toBeGreaterThan(3);
      expect(["replace", "update", "record"], key).toContain(input.change);
      if (input.required !== undefined) expect(input.required, key).toMatch(/^is required/);
    }
  });
});

describe("replaceMarked", () => {
  it("replaces only the marked section and refuses a document without it", () => {
    const doc = "a\n<!-- spec:X -->\nold\n<!-- /spec:X -->\nb";
    expect(replaceMarked(doc, "X", "new")).toBe("a\n<!-- spec:X -->\nnew\n<!-- /spec:X -->\nb");
    expect(() => replaceMarked("a", "X", "new")).toThrow(/no <!-- spec:X -->/);
  });
});
