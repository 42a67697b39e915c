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

// Raw and libvirt-returned XML keep their element order when edited (device
// order matters to guests, and a snapshot embeds a <domain>), so edits use the
// order-preserving form of the parser: an element is `{ tag: children, ":@": attributes }`.
export type OrderedNode = Record<string, unknown> & { ":@"?: Record<string, string> };

const orderedParser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  htmlEntities: false,
});
const orderedBuilder = new XMLBuilder({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  suppressEmptyNode: true,
  processEntities: true,
});

export function parseOrdered(xml: string): OrderedNode[] {
  return orderedParser.parse(xml) as OrderedNode[];
}

export function buildOrdered(doc: OrderedNode[]): string {
  return orderedBuilder.build(doc) as string;
}

/** The children of the first `<tag>` among `nodes`. */
export function orderedChildren(nodes: OrderedNode[], tag: string): OrderedNode[] | undefined {
  return nodes.find((n) => tag in n)?.[tag] as OrderedNode[] | undefined;
}

/**
 * `xml` with the children of its `<root>` element edited in place by `edit`; the
 * rest (order, attributes, text) stays as written. Throws when it is not a `<root>` document.
 */
export function editElement(xml: string, root: string, edit: (body: OrderedNode[]) => void): string {
  const doc = parseOrdered(xml);
  const body = orderedChildren(doc, root);
  if (!body) throw new Error(`xml: not a <${root}> document`);
  edit(body);
  return buildOrdered(doc);
}

/**
 * Sets the text of the first `<tag>` in an element's children, or removes it when
 * `value` is undefined. A missing one goes right after the first `<after>` (first
 * of all without `after`, or when there is none). An existing one keeps its
 * attributes only with `keepAttributes`.
 */
export function setChildText(
  body: OrderedNode[],
  tag: string,
  value: string | undefined,
  opts: { after?: string; keepAttributes?: boolean } = {},
): void {
  const at = body.findIndex((n) => tag in n);
  if (value === undefined) {
    if (at >= 0) body.splice(at, 1);
    return;
  }
  const content = [{ "#text": value }];
  if (at >= 0) {
    if (opts.keepAttributes) body[at][tag] = content;
    else body[at] = { [tag]: content };
  } else {
    const anchor = opts.after === undefined ? -1 : body.findIndex((n) => opts.after! in n);
    body.splice(anchor + 1, 0, { [tag]: content });
  }
}
