// What is generated from a resource spec: the SDK module (its Args interfaces, a
// base class declaring the outputs, the output list and the secret flows) and the
// README's input table. scripts/gen-from-spec.mjs writes them; a unit test fails
// when the committed files differ from what this renders.
import { z } from "zod";
import { secretFlows, sdkOutputs, type ChangeRule, type InputSpec, type ResourceSpec } from "./spec";

interface JsonSchema {
  type?: string;
  enum?: unknown[];
  items?: JsonSchema;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  description?: string;
  sdkName?: string;
  sdkType?: string;
}

const toJson = (schema: z.ZodType): JsonSchema => z.toJSONSchema(schema, { unrepresentable: "any" }) as JsonSchema;

/** A doc comment, wrapped at about 100 columns. */
function docComment(text: string | undefined, indent: string): string {
  if (!text) return "";
  const words = text.split(/\s+/);
  const lines: string[] = [];
  let line = "";
  for (const w of words) {
    if (line && line.length + w.length + 1 > 96 - indent.length) {
      lines.push(line);
      line = w;
    } else line = line ? `${line} ${w}` : w;
  }
  lines.push(line);
  return lines.length === 1 ? `${indent}/** ${lines[0]} */\n` : `${indent}/**\n${lines.map((l) => `${indent} * ${l}\n`).join("")}${indent} */\n`;
}

/** The TypeScript type of a value users give (each level a pulumi.Input); named object types are collected. */
function argType(s: JsonSchema, named: Map<string, string>): string {
  if (s.sdkType) return s.sdkType;
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(" | ");
  switch (s.type) {
    case "string":
      return "string";
    case "integer":
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "array":
      return `pulumi.Input<${argType(s.items ?? {}, named)}>[]`;
    case "object": {
      const body = Object.entries(s.properties ?? {})
        .map(
          ([k, p]) =>
            `${docComment(p.description, "  ")}  ${k}${s.required?.includes(k) ? "" : "?"}: ${p.sdkType ?? `pulumi.Input<${argType(p, named)}>`};\n`,
        )
        .join("");
      if (!s.sdkName) return `{ ${body.replace(/\n/g, " ").trim()} }`;
      named.set(s.sdkName, `export interface ${s.sdkName} {\n${body}}\n`);
      return s.sdkName;
    }
    default:
      return "unknown";
  }
}

const constName = (spec: ResourceSpec) => spec.name.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();

/** sdk/generated/<resource>.ts */
export function renderSdkModule(spec: ResourceSpec, imports: Record<string, string>): string {
  const named = new Map<string, string>();
  const args = Object.entries(spec.inputs)
    .map(([k, i]) => {
      const type = i.sdkArg ?? `pulumi.Input<${i.sdkType ?? argType(toJson(i.schema), named)}>`;
      return `${docComment(i.sdkDoc ?? i.doc, "  ")}  ${k}${i.sdkRequired ? "" : "?"}: ${type};\n`;
    })
    .join("");
  const outputs = sdkOutputs(spec);
  const declared = outputs
    .map(([k, o]) => `${docComment(o.doc, "  ")}  declare public readonly ${k}: ${o.sdkType ?? `pulumi.Output<${o.type}>`};\n`)
    .join("");
  const text = [...named.values(), args, declared].join("");
  // Names in types only: a doc comment that says "Domain" imports nothing.
  const types = text.replace(/\/\*\*[\s\S]*?\*\//g, "");
  const used = Object.entries(imports).filter(([name]) => new RegExp(`\\b${name}\\b`).test(types));
  const byModule = new Map<string, string[]>();
  for (const [name, from] of used) byModule.set(from, [...(byModule.get(from) ?? []), name]);
  const C = constName(spec);
  return (
    `// Generated from provider/${spec.name.toLowerCase()}/spec.ts by scripts/gen-from-spec.mjs: do not edit.\n` +
    `import * as pulumi from "@pulumi/pulumi";\n` +
    [...byModule].map(([from, names]) => `import type { ${names.sort().join(", ")} } from "${from}";\n`).join("") +
    `\n${[...named.values()].join("\n")}\n` +
    `export interface ${spec.name}Args {\n${args}}\n\n` +
    `/** The outputs of a ${spec.name}: every one is registered, so that each is set even when it was no input. */\n` +
    `export abstract class ${spec.name}Resource extends pulumi.dynamic.Resource {\n${declared}}\n\n` +
    `export const ${C}_OUTPUT_KEYS = ${JSON.stringify(outputs.map(([k]) => k))} as const;\n\n` +
    `/** For each input: the outputs its value is written into (a secret input makes them secret). */\n` +
    `export const ${C}_SECRET_FLOWS: Readonly<Record<string, readonly string[]>> = ${JSON.stringify(secretFlows(spec))};\n`
  );
}

const CHANGE_WORDS: Record<ChangeRule, string> = { replace: "replaces", update: "in place", record: "recorded" };

function defaultText(i: InputSpec): string {
  if (i.defaultDoc !== undefined) return i.defaultDoc;
  if (i.default === undefined) return "";
  return `\`${JSON.stringify(i.default)}\`${i.noDefaultWith ? ` (none with \`${i.noDefaultWith}\`)` : ""}`;
}

/** The README's table of a resource's inputs. */
export function renderInputTable(spec: ResourceSpec): string {
  const rows = Object.entries(spec.inputs).map(([k, i]) => `| \`${k}\` | ${defaultText(i)} | ${CHANGE_WORDS[i.change]} | ${i.doc} |`);
  return ["| input | default | on change | notes |", "|---|---|---|---|", ...rows].join("\n");
}

/** Replaces the text between `<!-- spec:<id> -->` and `<!-- /spec:<id> -->` in a document. */
export function replaceMarked(doc: string, id: string, content: string): string {
  const start = `<!-- spec:${id} -->`;
  const end = `<!-- /spec:${id} -->`;
  const a = doc.indexOf(start);
  const b = doc.indexOf(end);
  if (a < 0 || b < a) throw new Error(`the document has no ${start} ... ${end} section`);
  return `${doc.slice(0, a + start.length)}\n${content}\n${doc.slice(b)}`;
}
