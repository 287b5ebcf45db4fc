// YAML/JSON codecs for manifests: multi-document parsing (Lists and JSON arrays flattened) and lossless printing.
import { LineCounter, isMap, isPair, isScalar, isSeq, parseAllDocuments, stringify, type Document } from 'yaml';
import { objectRef, type KubeObject } from './meta.js';
import { MAX_NESTING_DEPTH, nestingProblem } from './limits.js';

interface ParsedManifests {
  /** One entry per object found, in document order (Lists and arrays flattened); not yet validated. */
  objects: unknown[];
  /** One line per problem: `<source>: document <n>, line <l>[, column <c>]: <reason>`. */
  errors: string[];
}

// Aliases expand when converted to plain objects; a small cap defeats "billion laughs" documents.
const MAX_ALIAS_EXPANSIONS = 100;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function describeKind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'string') return `a string (${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)})`;
  return typeof v === 'object' ? 'an object' : `a ${typeof v}`;
}

/**
 * Parses multi-document YAML (JSON is YAML too). Empty documents are skipped; a `List`/`*List` object or a top-level
 * array is flattened into its items; a syntax error names the source, the document number and the line. Objects are
 * returned as written (same keys, same order); documents with errors contribute no objects.
 */
export function parseManifests(text: string, source: string): ParsedManifests {
  const objects: unknown[] = [];
  const errors: string[] = [];
  const lines = new LineCounter();
  // YAML 1.2 core schema: `yes`, `on`, `0755` stay strings/decimal as JSON would read them. Keys must be unique,
  // but the parser's own check compares each key with every earlier one (quadratic: minutes for 100k labels), so
  // `duplicateKeyOffset` checks them instead, in linear time.
  const docs = parseAllDocuments(text, { lineCounter: lines, uniqueKeys: false, prettyErrors: true });
  let n = 0;
  for (const doc of docs) {
    n++;
    const where = (offset: number | undefined): string => {
      if (offset === undefined) return `${source}: document ${n}`;
      const pos = lines.linePos(offset);
      return `${source}: document ${n}, line ${pos.line}`;
    };
    if (doc.errors.length > 0) {
      // Only the first error: the parser's later errors in the same document are usually consequences of it.
      const err = doc.errors[0]!;
      // The parser catches its own stack overflow on deeply nested input and reports it as a syntax error; name the
      // object and the field instead, from what was parsed before the overflow.
      if (/Maximum call stack size exceeded/.test(err.message)) {
        errors.push(`${where(err.pos[0])}: ${tooDeep(doc)}`);
        continue;
      }
      const pos = err.linePos?.[0];
      const reason = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      errors.push(pos ? `${source}: document ${n}, line ${pos.line}, column ${pos.col}: ${reason}` : `${where(err.pos[0])}: ${reason}`);
      continue;
    }
    if (doc.contents === null) continue;
    const dup = duplicateKeyOffset(doc);
    if (dup !== undefined) {
      const pos = lines.linePos(dup);
      errors.push(`${source}: document ${n}, line ${pos.line}, column ${pos.col}: Map keys must be unique`);
      continue;
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
    } catch (err) {
      errors.push(`${where(doc.contents.range?.[0])}: ${err instanceof Error ? err.message : String(err)}`);
      continue;
    }
    if (value === null || value === undefined) continue;
    const at = where(doc.contents.range?.[0]);
    const deep = nestingProblem(value);
    if (deep) {
      errors.push(`${at}: ${refOfParsed(value)}: ${deep.path}: ${deep.reason}`);
      continue;
    }
    flatten(value, at, objects, errors);
  }
  return { objects, errors };
}

/** `Kind/ns/name` of a parsed document when it is one object (else `<document>`), for messages about it. */
function refOfParsed(value: unknown): string {
  return isRecord(value) ? objectRef(value as Partial<KubeObject>) : '<document>';
}

/** The message for a document the parser could not descend into: the object and field where it is too deep. */
function tooDeep(doc: Document.Parsed): string {
  const fallback = `<document>: <document>: nested too deeply to parse (at most ${MAX_NESTING_DEPTH} levels of maps and lists)`;
  let partial: unknown;
  try {
    // What was parsed before the overflow: enough to name the object and the deep field.
    partial = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSIONS });
  } catch {
    return fallback;
  }
  const deep = nestingProblem(partial);
  return deep ? `${refOfParsed(partial)}: ${deep.path}: ${deep.reason}` : fallback;
}

/**
 * The source offset of the first key that repeats an earlier key of the same mapping, or undefined. Keys compare as
 * they will as object keys (`1` and `"1"` are the same key). One pass with a set per mapping, over an explicit stack.
 */
function duplicateKeyOffset(doc: Document.Parsed): number | undefined {
  const stack: unknown[] = [doc.contents];
  while (stack.length > 0) {
    const node = stack.pop();
    if (isMap(node)) {
      const seen = new Set<string>();
      for (const pair of node.items) {
        if (isScalar(pair.key)) {
          const k = String(pair.key.value);
          if (seen.has(k)) return pair.key.range?.[0];
          seen.add(k);
        }
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(isPair(item) ? item.value : item);
    }
  }
  return undefined;
}

/** Adds the objects in `value` (an object, a List, or an array of those) to `out`; `at` prefixes error lines. */
function flatten(value: unknown, at: string, out: unknown[], errors: string[]): void {
  if (Array.isArray(value)) {
    value.forEach((item, i) => flatten(item, `${at}, item ${i + 1}`, out, errors));
    return;
  }
  if (!isRecord(value)) {
    errors.push(`${at}: expected an object (a mapping with apiVersion, kind and metadata), got ${describeKind(value)}`);
    return;
  }
  const kind = value['kind'];
  if (typeof kind === 'string' && kind.endsWith('List') && ('items' in value || kind === 'List')) {
    const items = value['items'];
    if (items === undefined || items === null) return;
    if (!Array.isArray(items)) {
      errors.push(`${at}: items: expected a list, got ${describeKind(items)}`);
      return;
    }
    flatten(items, at, out, errors);
    return;
  }
  out.push(value);
}

// Printing with the YAML 1.1 schema quotes every string a YAML 1.1 reader (kubectl, PyYAML) would take for a
// boolean, number or date (`"yes"`, `"on"`, `"0755"`), so the output reads back identically everywhere.
const YAML_OPTIONS = { schema: 'yaml-1.1', lineWidth: 0, aliasDuplicateObjects: false } as const;

/** Multi-document YAML, documents separated by `---`; fields and key order as in the objects. */
export function toYaml(objs: readonly KubeObject[]): string {
  return objs.map((o) => stringify(o, YAML_OPTIONS)).join('---\n');
}

/** One object as itself; several (or none) as a `v1` `List`. Pretty-printed, newline-terminated. */
export function toJson(objs: readonly KubeObject[]): string {
  const body = objs.length === 1 ? objs[0] : { apiVersion: 'v1', kind: 'List', items: objs };
  return `${JSON.stringify(body, null, 2)}\n`;
}
