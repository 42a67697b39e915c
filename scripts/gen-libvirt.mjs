#!/usr/bin/env node
// Generates provider/libvirt/libvirt.gen.ts from libvirt's machine-readable API
// description (/usr/share/libvirt/api/libvirt-api.xml, Debian package libvirt-dev),
// the way libvirt-python's generator.py and libvirt-go-module's gen/ do it:
// function signatures, flag/enum groups and structs come from the XML, never by hand.
//
//   npm run gen:libvirt                 # rewrite the generated file
//   npm run gen:libvirt -- --check      # exit 1 if the committed file is stale
//
// LIBVIRT_API_XML overrides the input path.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { XMLParser } from "fast-xml-parser";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const apiXmlPath = process.env.LIBVIRT_API_XML ?? "/usr/share/libvirt/api/libvirt-api.xml";
const outPath = join(root, "provider/libvirt/libvirt.gen.ts");

// The functions the binding uses. Everything else in libvirt-api.xml is left out
// on purpose: the provider loads only what it calls.
const FUNCTIONS = [
  // connection
  "virInitialize",
  "virConnectOpen",
  "virConnectOpenAuth",
  "virConnectClose",
  "virConnectGetURI",
  "virConnectIsAlive",
  "virConnectGetLibVersion",
  "virConnectGetCapabilities",
  "virConnGetLastError",
  "virConnResetLastError",
  "virGetLastError",
  "virResetLastError",
  "virSetErrorFunc",
  // domain
  "virDomainLookupByName",
  "virDomainLookupByUUIDString",
  "virDomainDefineXMLFlags",
  "virDomainCreateXML",
  "virDomainCreate",
  "virDomainDestroyFlags",
  "virDomainShutdownFlags",
  "virDomainUndefineFlags",
  "virDomainGetXMLDesc",
  "virDomainGetState",
  "virDomainGetUUIDString",
  "virDomainGetName",
  "virDomainIsPersistent",
  "virDomainIsActive",
  "virDomainHasManagedSaveImage",
  "virDomainGetAutostart",
  "virDomainSetAutostart",
  "virDomainFree",
  "virDomainListAllCheckpoints",
  "virDomainInterfaceAddresses",
  "virDomainInterfaceFree",
  // the provider's own marks in a domain's <metadata> (snapshots a restore redefined, for the Snapshot resources to adopt)
  "virDomainSetMetadata",
  "virDomainGetMetadata",
  // snapshot
  "virDomainSnapshotCreateXML",
  "virDomainSnapshotLookupByName",
  "virDomainSnapshotGetXMLDesc",
  "virDomainSnapshotDelete",
  "virDomainSnapshotFree",
  "virDomainSnapshotGetName",
  "virDomainSnapshotIsCurrent",
  "virDomainListAllSnapshots",
  "virDomainSnapshotListAllChildren",
  "virDomainSnapshotGetParent",
  "virDomainSnapshotHasMetadata",
  "virDomainRevertToSnapshot",
  // storage: pools, volumes, upload/download streams, and listing every domain (which domains use a volume)
  "virConnectListAllDomains",
  "virConnectListAllStoragePools",
  "virStoragePoolDefineXML",
  "virStoragePoolBuild",
  "virStoragePoolCreate",
  "virStoragePoolDestroy",
  "virStoragePoolDelete",
  "virStoragePoolUndefine",
  "virStoragePoolLookupByName",
  "virStoragePoolLookupByUUIDString",
  "virStoragePoolGetXMLDesc",
  "virStoragePoolIsActive",
  "virStoragePoolIsPersistent",
  "virStoragePoolRefresh",
  "virStoragePoolListAllVolumes",
  "virStoragePoolGetAutostart",
  "virStoragePoolSetAutostart",
  "virStoragePoolGetName",
  "virStoragePoolGetUUIDString",
  "virStoragePoolFree",
  "virStorageVolCreateXML",
  "virStorageVolDelete",
  "virStorageVolGetKey",
  "virStorageVolGetName",
  "virStorageVolGetPath",
  "virStorageVolGetXMLDesc",
  "virStorageVolLookupByName",
  "virStorageVolLookupByPath",
  "virStorageVolUpload",
  "virStorageVolDownload",
  "virStorageVolResize",
  "virStorageVolFree",
  "virStreamNew",
  "virStreamSend",
  "virStreamRecv",
  "virStreamFinish",
  "virStreamAbort",
  "virStreamFree",
  // networks
  "virConnectListAllNetworks",
  "virNetworkLookupByName",
  "virNetworkLookupByUUIDString",
  "virNetworkDefineXML",
  "virNetworkCreate",
  "virNetworkDestroy",
  "virNetworkUndefine",
  "virNetworkUpdate",
  "virNetworkGetXMLDesc",
  "virNetworkGetBridgeName",
  "virNetworkGetAutostart",
  "virNetworkSetAutostart",
  "virNetworkIsActive",
  "virNetworkIsPersistent",
  "virNetworkGetName",
  "virNetworkGetUUIDString",
  "virNetworkFree",
];

// Enum groups (the XML's enum `type`) whose values the binding and the teardown rules use.
const ENUM_GROUPS = [
  "virErrorNumber",
  "virErrorDomain",
  "virDomainState",
  "virDomainUndefineFlagsValues",
  "virDomainDefineFlags",
  "virDomainCreateFlags",
  "virDomainXMLFlags",
  "virDomainSnapshotCreateFlags",
  "virDomainSnapshotDeleteFlags",
  "virDomainSnapshotListFlags",
  "virDomainModificationImpact",
  "virDomainMetadataType",
  "virConnectCredentialType",
  // storage
  "virConnectListAllDomainsFlags",
  // addresses (virDomainInterfaceAddresses: where they come from, what they are)
  "virDomainInterfaceAddressesSource",
  "virIPAddrType",
  // networks (virNetworkUpdate's command and section; its flags are in FLAG_GROUPS)
  "virNetworkUpdateCommand",
  "virNetworkUpdateSection",
];

// Each function's `flags` argument and the enum group its values come from, as
// go-libvirt's flagMap has it (libvirt-api.xml says so only in the argument's
// prose). The argument is typed with that group's branded flag type, so passing
// one group's flags where another's are expected is a type error; null: "not used
// yet, callers should always pass 0", typed as 0. Every function in FUNCTIONS
// that has a flags argument must be here (checked below).
const FLAG_GROUPS = {
  virConnectOpenAuth: "virConnectFlags",
  virDomainDefineXMLFlags: "virDomainDefineFlags",
  virDomainCreateXML: "virDomainCreateFlags",
  virDomainDestroyFlags: "virDomainDestroyFlagsValues",
  virDomainShutdownFlags: "virDomainShutdownFlagValues",
  virDomainUndefineFlags: "virDomainUndefineFlagsValues",
  virDomainGetXMLDesc: "virDomainXMLFlags",
  virDomainGetState: null,
  virDomainHasManagedSaveImage: null,
  virDomainListAllCheckpoints: "virDomainCheckpointListFlags",
  virDomainInterfaceAddresses: null,
  virDomainSetMetadata: "virDomainModificationImpact",
  virDomainGetMetadata: "virDomainModificationImpact",
  virDomainSnapshotCreateXML: "virDomainSnapshotCreateFlags",
  virDomainSnapshotLookupByName: null,
  virDomainSnapshotGetXMLDesc: "virDomainSnapshotXMLFlags",
  virDomainSnapshotDelete: "virDomainSnapshotDeleteFlags",
  virDomainSnapshotIsCurrent: null,
  virDomainListAllSnapshots: "virDomainSnapshotListFlags",
  virDomainSnapshotListAllChildren: "virDomainSnapshotListFlags",
  virDomainSnapshotGetParent: null,
  virDomainSnapshotHasMetadata: null,
  virDomainRevertToSnapshot: "virDomainSnapshotRevertFlags",
  virConnectListAllDomains: "virConnectListAllDomainsFlags",
  virConnectListAllStoragePools: "virConnectListAllStoragePoolsFlags",
  virStoragePoolDefineXML: "virStoragePoolDefineFlags",
  virStoragePoolBuild: "virStoragePoolBuildFlags",
  virStoragePoolCreate: "virStoragePoolCreateFlags",
  virStoragePoolDelete: "virStoragePoolDeleteFlags",
  virStoragePoolGetXMLDesc: "virStorageXMLFlags",
  virStoragePoolRefresh: null,
  virStoragePoolListAllVolumes: null,
  virStorageVolCreateXML: "virStorageVolCreateFlags",
  virStorageVolDelete: "virStorageVolDeleteFlags",
  virStorageVolGetXMLDesc: null,
  virStorageVolUpload: "virStorageVolUploadFlags",
  virStorageVolDownload: "virStorageVolDownloadFlags",
  virStorageVolResize: "virStorageVolResizeFlags",
  virStreamNew: "virStreamFlags",
  virConnectListAllNetworks: "virConnectListAllNetworksFlags",
  virNetworkGetXMLDesc: "virNetworkXMLFlags",
  virNetworkUpdate: "virNetworkUpdateFlags",
};

// Arguments whose C type says less than their use: `virStreamSend`'s `const char *data`
// is a byte buffer, not a C string (koffi would otherwise take a JS string).
const ARG_TYPES = {
  "virStreamSend.data": "const uint8_t *",
};

// In declaration order: virConnectAuth's callback takes a virConnectCredential array.
const STRUCTS = ["virError", "virConnectCredential", "virConnectAuth", "virDomainIPAddress", "virDomainInterface"];

// Struct fields whose C type says less than their use: libvirt frees `result` itself,
// so the caller sets it to memory from malloc (a pointer, not a JS string); the
// callback is a koffi prototype the binding declares.
const FIELD_TYPES = {
  "virConnectCredential.result": "void *",
  "virConnectAuth.cb": "virConnectAuthCallback *",
};

// C type in the XML -> koffi type. Opaque `virXPtr` typedefs become `virX *`.
function koffiType(cType, { isReturn }) {
  const t = cType.trim();
  const opaque = /^vir(\w+)Ptr$/.exec(t);
  if (t === "virErrorPtr") return "virError *";
  if (t === "virConnectAuthPtr") return "virConnectAuth *";
  if (t === "virErrorFunc") return "virErrorFunc *";
  if (opaque) return `vir${opaque[1]} *`;
  if (t === "const char *") return "const char *";
  // A `char *` result is heap memory the caller must free: HeapString frees it after decoding.
  if (t === "char *") return isReturn ? "HeapString" : "char *";
  if (/^vir\w+Ptr \*\*$/.test(t)) return "_Out_ void **";
  if (t === "int *" || t === "unsigned int *" || t === "unsigned long *") return `_Out_ ${t}`;
  if (["int", "unsigned int", "unsigned long", "long long", "unsigned long long", "size_t", "void", "void *"].includes(t)) return t;
  throw new Error(`gen-libvirt: no koffi mapping for C type "${t}"; add one to koffiType()`);
}

// koffi type -> the TypeScript type a caller passes or receives.
function tsType(kType) {
  if (kType === "HeapString" || kType === "const char *") return "string | null";
  if (kType === "char *" || kType === "const uint8_t *") return "Buffer";
  // A NULL list asks only for the count.
  if (kType === "_Out_ void **") return "[unknown] | null";
  if (kType === "virConnectAuth *") return "virConnectAuthFields";
  if (kType.startsWith("_Out_ ")) return "[number]";
  if (kType === "void") return "void";
  if (["int", "unsigned int", "unsigned long", "size_t"].includes(kType)) return "number";
  if (["long long", "unsigned long long"].includes(kType)) return "number | bigint";
  if (kType === "virErrorFunc *") return "unknown";
  if (kType.endsWith(" *")) return kType === "void *" ? "unknown" : `Ptr<"${kType.slice(0, -2)}"> | null`;
  throw new Error(`gen-libvirt: no TypeScript mapping for koffi type "${kType}"`);
}

function structFieldType(struct, field) {
  const t = field.type.trim();
  const override = FIELD_TYPES[`${struct}.${field.name}`];
  if (override) return override;
  if (t === "char *" || t === "const char *") return "const char *";
  if (t === "int *" || t === "unsigned int" || t === "void *") return t;
  if (t === "int" || /^vir\w+(Level|Number|Domain)$/.test(t)) return "int";
  if (/Ptr$/.test(t)) return "void *";
  throw new Error(`gen-libvirt: no struct field mapping for "${t}"`);
}

const docComment = (text, indent = "") => {
  const lines = String(text ?? "")
    .trim()
    .replace(/\*\//g, "*\\/")
    .split("\n");
  if (lines.length === 1 && lines[0] === "") return "";
  return `${indent}/**\n${lines.map((l) => `${indent} * ${l}`.trimEnd()).join("\n")}\n${indent} */\n`;
};

function loadApi(xmlText) {
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "",
    isArray: (name) => ["function", "enum", "struct", "field", "arg", "typedef", "macro", "functype"].includes(name),
    cdataPropName: "#cdata",
  });
  const api = parser.parse(xmlText).api;
  const text = (info) => (info && typeof info === "object" ? (info["#cdata"] ?? "") : (info ?? ""));
  return {
    functions: new Map(api.symbols.function.map((f) => [f.name, f])),
    enums: api.symbols.enum,
    structs: new Map(api.symbols.struct.map((s) => [s.name, s])),
    text,
  };
}

function render(api, libvirtVersion) {
  const out = [];
  out.push(`// Code generated by scripts/gen-libvirt.mjs from libvirt-api.xml (libvirt ${libvirtVersion}). DO NOT EDIT.`);
  out.push(`// To regenerate: npm run gen:libvirt`);
  out.push(`/* eslint-disable */`);
  out.push(``);
  out.push(`/** An opaque libvirt object pointer, branded with its C type so a domain cannot be passed as a snapshot. */`);
  out.push(`export type Ptr<T extends string> = { readonly __libvirtPointer: T };`);
  out.push(``);
  out.push(`/**`);
  out.push(` * A value of libvirt flag group G, branded with the group's name so that one group's flags cannot be`);
  out.push(` * passed where another's are expected. At run time it is the plain number; flags.ts combines values.`);
  out.push(` */`);
  out.push(`export type Flags<G extends string> = number & { readonly __libvirtFlags: G };`);
  out.push(``);

  // Some values name another enum (VIR_DOMAIN_SNAPSHOT_XML_SECURE = VIR_DOMAIN_XML_SECURE).
  const byName = new Map(api.enums.map((e) => [e.name, e.value]));
  const valueOf = (v, seen = new Set()) => {
    if (/^-?\d+$/.test(String(v))) return Number(v);
    if (seen.has(v) || !byName.has(v)) throw new Error(`gen-libvirt: cannot resolve enum value "${v}"`);
    seen.add(v);
    return valueOf(byName.get(v), seen);
  };

  const flagGroups = new Set(Object.values(FLAG_GROUPS).filter(Boolean));
  for (const group of [...new Set([...ENUM_GROUPS, ...flagGroups])]) {
    // The group's `..._LAST` sentinel (one past the largest value) is left out; a real value that
    // happens to end in _LAST (VIR_NETWORK_UPDATE_COMMAND_ADD_LAST) is kept.
    const members = api.enums.filter((e) => e.type === group);
    const largest = Math.max(...members.map((e) => valueOf(e.value)));
    const values = members.filter((e) => !(/_LAST$/.test(e.name) && valueOf(e.value) === largest));
    if (values.length === 0) throw new Error(`gen-libvirt: enum group ${group} not found in libvirt-api.xml`);
    const isFlags = flagGroups.has(group);
    out.push(`/** libvirt ${isFlags ? "flag group" : "enum"} \`${group}\`: https://libvirt.org/html/libvirt-${values[0].file}.html#${group} */`);
    out.push(`export const ${group} = {`);
    for (const v of values) {
      const info = [api.text(v.info), v.version ? `@since libvirt ${v.version}` : ""].filter(Boolean).join("\n");
      const value = isFlags ? `${valueOf(v.value)} as Flags<"${group}">` : valueOf(v.value);
      out.push(docComment(info, "  ") + `  ${v.name}: ${value},`);
    }
    out.push(`} as const;`);
    out.push(isFlags ? `export type ${group} = Flags<"${group}">;` : `export type ${group} = (typeof ${group})[keyof typeof ${group}];`);
    out.push(``);
  }

  out.push(`/** koffi struct layouts, field by field from libvirt-api.xml. */`);
  out.push(`export const STRUCTS = {`);
  for (const name of STRUCTS) {
    const s = api.structs.get(name);
    if (!s) throw new Error(`gen-libvirt: struct ${name} not found`);
    out.push(`  ${name}: {`);
    for (const f of s.field) out.push(`    ${f.name}: ${JSON.stringify(structFieldType(name, f))},`);
    out.push(`  },`);
  }
  out.push(`} as const;`);
  out.push(``);
  out.push(`/** What a caller passes for a \`virConnectAuth *\` (koffi encodes the struct). */`);
  out.push(`export interface virConnectAuthFields {`);
  out.push(`  credtype: number[];`);
  out.push(`  ncredtype: number;`);
  out.push(`  cb: unknown;`);
  out.push(`  cbdata: unknown;`);
  out.push(`}`);
  out.push(``);

  const sigs = [];
  const notOpaque = new Set([...STRUCTS, "virErrorFunc"]);
  const opaques = new Set();
  out.push(`/** koffi declarations of every libvirt function the binding uses, with the libvirt version that added it. */`);
  out.push(`export const FUNCTIONS = {`);
  for (const name of Object.keys(FLAG_GROUPS)) {
    if (!FUNCTIONS.includes(name)) throw new Error(`gen-libvirt: FLAG_GROUPS names ${name}, which is not in FUNCTIONS`);
  }
  for (const name of FUNCTIONS) {
    const f = api.functions.get(name);
    if (!f) throw new Error(`gen-libvirt: function ${name} not found in libvirt-api.xml`);
    const ret = koffiType(f.return.type, { isReturn: true });
    const args = (f.arg ?? []).map((a) => ({ name: a.name, k: ARG_TYPES[`${name}.${a.name}`] ?? koffiType(a.type, { isReturn: false }) }));
    for (const k of [ret, ...args.map((a) => a.k)]) {
      const m = /^(vir\w+) \*$/.exec(k);
      if (m && !notOpaque.has(m[1])) opaques.add(m[1]);
    }
    const decl = `${ret} ${name}(${args.map((a) => `${a.k} ${a.name}`).join(", ")})`;
    out.push(`  ${name}: { decl: ${JSON.stringify(decl)}, since: ${JSON.stringify(f.version ?? "0.0.0")} },`);
    const firstLine = api.text(f.info).split("\n\n")[0].replace(/\s+/g, " ").trim();
    const hasFlags = args.some((a) => a.name === "flags");
    if (hasFlags && !(name in FLAG_GROUPS)) throw new Error(`gen-libvirt: ${name} takes flags: add its flag group (or null) to FLAG_GROUPS`);
    if (!hasFlags && name in FLAG_GROUPS) throw new Error(`gen-libvirt: FLAG_GROUPS names ${name}, which takes no flags argument`);
    const argType = (a) => (a.name === "flags" ? (FLAG_GROUPS[name] ? `${FLAG_GROUPS[name]} | 0` : "0") : tsType(a.k));
    sigs.push(
      docComment(`${firstLine}\n@see https://libvirt.org/html/libvirt-${f.file}.html#${name}`, "  ") +
        `  ${name}(${args.map((a) => `${a.name}: ${argType(a)}`).join(", ")}): ${tsType(ret)};`,
    );
  }
  out.push(`} as const;`);
  out.push(``);
  out.push(`/** libvirt's opaque object types that FUNCTIONS pass or return (declared with koffi.opaque before binding). */`);
  out.push(`export const OPAQUE_TYPES = ${JSON.stringify([...opaques].sort())} as const;`);
  out.push(``);
  out.push(`/** The typed signatures of FUNCTIONS, as the binding's loader exposes them. */`);
  out.push(`export interface LibvirtFunctions {`);
  out.push(sigs.join("\n"));
  out.push(`}`);
  out.push(``);
  return out.join("\n");
}

const xmlText = readFileSync(apiXmlPath, "utf8");
const version = /<api name='libvirt'>/.test(xmlText) ? detectVersion(xmlText) : "unknown";
function detectVersion(text) {
  // The newest `version` attribute in the file is the release it describes.
  const versions = [...text.matchAll(/ version='(\d+)\.(\d+)\.(\d+)'/g)].map((m) => [m[1], m[2], m[3]].map(Number));
  versions.sort((a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2]);
  return versions.at(-1).join(".");
}
const generated = render(loadApi(xmlText), version);

if (process.argv.includes("--check")) {
  const current = readFileSync(outPath, "utf8");
  if (current !== generated) {
    console.error(`${outPath} is stale: run npm run gen:libvirt`);
    process.exit(1);
  }
  console.log(`${outPath} is current`);
} else {
  writeFileSync(outPath, generated);
  console.log(
    `wrote ${outPath} (${FUNCTIONS.length} functions, ${new Set([...ENUM_GROUPS, ...Object.values(FLAG_GROUPS).filter(Boolean)]).size} enum groups, libvirt ${version})`,
  );
}
