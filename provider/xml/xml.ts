// The one XML library setup shared by the domain and snapshot documents: a
// builder that escapes every text and attribute value (a name such as
// `x</name><devices>` stays text), and a parser with the same conventions.
import { XMLBuilder, XMLParser } from "fast-xml-parser";

/** Attributes are keys starting with "@", text is "#text". */
export type XmlNode = { [key: string]: XmlValue };
export type XmlValue = string | number | boolean | XmlNode | XmlNode[] | undefined;

const builder = new XMLBuilder({
  attributeNamePrefix: "@",
  ignoreAttributes: false,
  textNodeName: "#text",
  suppressEmptyNode: true,
  suppressBooleanAttributes: false,
  processEntities: true,
  format: true,
  indentBy: "  ",
});

const parser = new XMLParser({
  attributeNamePrefix: "@",
  ignoreAttributes: false,
  textNodeName: "#text",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: false,
});

export function buildXml(doc: XmlNode): string {
  return builder.build(doc) as string;
}

/** Parses a document; throws with the parser's reason on malformed XML. */
export function parseXml(xml: string): XmlNode {
  return parser.parse(xml, true) as XmlNode;
}

/** Drops undefined members so the builder emits only what was set. */
export function compact<T extends XmlNode>(node: T): T {
  return Object.fromEntries(Object.entries(node).filter(([, v]) => v !== undefined)) as T;
}

/** A child that may appear once or many times, always as an array. */
export function many(value: XmlValue): XmlNode[] {
  if (value === undefined || value === "") return [];
  return (Array.isArray(value) ? value : [value]).map((v) => (typeof v === "object" ? (v as XmlNode) : { "#text": String(v) }));
}

export function text(value: XmlValue): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value === "object" && !Array.isArray(value)) {
    const t = (value as XmlNode)["#text"];
    return t === undefined ? "" : String(t);
  }
  return String(value);
}

export function child(node: XmlValue, name: string): XmlNode | undefined {
  if (!node || typeof node !== "object" || Array.isArray(node)) return undefined;
  const v = (node as XmlNode)[name];
  if (v === undefined) return undefined;
  if (typeof v === "object" && !Array.isArray(v)) return v as XmlNode;
  if (Array.isArray(v)) return v[0];
  return { "#text": String(v) };
}

const untrimmed = new XMLParser({
  attributeNamePrefix: "@",
  ignoreAttributes: false,
  textNodeName: "#text",
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
});

/**
 * The text of `<root><tag>` exactly as the document holds it, spaces included
 * (parseXml trims values, and libvirt keeps a description's leading and
 * trailing spaces: comparing trimmed text with the input is a perpetual diff).
 */
export function exactChildText(xml: string, root: string, tag: string): string | undefined {
  return text(child(child(untrimmed.parse(xml, true) as XmlNode, root), tag));
}
