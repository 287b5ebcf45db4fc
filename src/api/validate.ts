// Validation at the edge: checks an incoming object's envelope, then its kind's spec rules, and returns either
// the normalized object plus the fields Ambit stores but ignores, or one `<Kind>/<ns>/<name>: <path>: <reason>` per problem.
import { objectRef, printable, quoted, type KubeObject } from './meta.js';
import { kindByName, acceptsApiVersion, preferredApiVersion, KINDS } from './registry.js';
import { labelKeyError, labelValueError } from './labels.js';
import { MAX_ANNOTATIONS_BYTES, MAX_LABELS, formatBytes, nestingProblem, objectSizeProblem } from './limits.js';

/** A field that is valid but not enforced by Ambit yet; reported in `status.conditions`. */
export interface IgnoredField {
  path: string;
  reason: string;
}

export type ValidationResult = { ok: true; object: KubeObject; ignored: IgnoredField[] } | { ok: false; errors: string[] };

/** Collects problems for one object; kind validators call `error` and `ignore` with dotted field paths. */
export class Problems {
  readonly errors: Array<{ path: string; reason: string }> = [];
  readonly ignored: IgnoredField[] = [];
  error(path: string, reason: string): void {
    this.errors.push({ path, reason });
  }
  ignore(path: string, reason: string): void {
    this.ignored.push({ path, reason });
  }
}

/** Validates one kind's `spec` (and any other top-level fields); registered per kind in `SPEC_VALIDATORS`. */
type SpecValidator = (obj: KubeObject, p: Problems) => void;

const SPEC_VALIDATORS = new Map<string, SpecValidator>();

/** Registers the spec validator of a kind (each kind module calls this once). */
export function registerSpecValidator(kind: string, v: SpecValidator): void {
  SPEC_VALIDATORS.set(kind, v);
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** Why `name` is not a DNS-1123 subdomain (object names), or undefined. */
export function dns1123SubdomainError(name: string): string | undefined {
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    return `${quoted(name)} is not a valid DNS-1123 subdomain (lowercase alphanumerics, '-' and '.', at most 253 characters, starting and ending alphanumeric)`;
  }
  return undefined;
}

/** Why `name` is not a DNS-1123 label (namespace and service names), or undefined. */
export function dns1123LabelError(name: string): string | undefined {
  if (name.length > 63 || !DNS1123_LABEL.test(name)) {
    return `${quoted(name)} is not a valid DNS-1123 label (lowercase alphanumerics and '-', at most 63 characters, starting and ending alphanumeric)`;
  }
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Every field of Kubernetes' ObjectMeta; anything else under `metadata` is refused.
const OBJECT_META_FIELDS = new Set([
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
]);

// Kinds whose names must be DNS-1123 labels rather than subdomains (as Kubernetes requires).
const LABEL_NAMED = new Set(['Namespace', 'Service']);

/** Problems reported per object at most: a hostile object with thousands of bad fields gets a bounded answer. */
const MAX_REPORTED_ERRORS = 100;

/** Ambit's resourceVersions: decimal numbers (what the store issues). */
const RESOURCE_VERSION = /^[0-9]{1,20}$/;

/** How an unexpected JSON value reads in a message (`12345`, `true`, `a list`). */
function describeValue(v: unknown): string {
  if (Array.isArray(v)) return 'a list';
  if (v === null || typeof v !== 'object') return printable(String(JSON.stringify(v)));
  return 'a map';
}

/**
 * Validates and normalizes one object as it enters the store. Normalization only fills what Kubernetes fills
 * (`metadata.namespace: default` for namespaced kinds); everything the user wrote is kept as written.
 */
export function validateObject(input: unknown): ValidationResult {
  if (!isRecord(input)) return { ok: false, errors: ['<document>: the document is not an object (expected a mapping with apiVersion, kind and metadata)'] };
  // Before anything walks the object recursively (structuredClone, the spec validators), which deep input would
  // make fail with a stack overflow.
  const deep = nestingProblem(input);
  if (deep) return { ok: false, errors: [`${objectRef(input as Partial<KubeObject>)}: ${deep.path}: ${deep.reason}`] };
  const obj = structuredClone(input) as KubeObject;
  const p = new Problems();
  const meta = obj.metadata;
  if (isRecord(meta) && isRecord(obj) && typeof obj.kind === 'string') {
    const info = kindByName(obj.kind);
    if (info?.namespaced && (meta.namespace === undefined || meta.namespace === '')) meta.namespace = 'default';
  }
  const ref = objectRef(obj);
  const fail = (): ValidationResult => {
    const shown = p.errors.slice(0, MAX_REPORTED_ERRORS).map((e) => `${ref}: ${e.path}: ${e.reason}`);
    const more = p.errors.length - shown.length;
    if (more > 0) shown.push(`${ref}: <object>: ${more} more problems not shown (fix the ones above first)`);
    return { ok: false, errors: shown };
  };

  if (typeof obj.kind !== 'string' || obj.kind === '') {
    p.error('kind', 'required field is missing');
    return fail();
  }
  const info = kindByName(obj.kind);
  if (!info) {
    p.error('kind', `unknown kind '${obj.kind}' (known kinds: ${KINDS.map((k) => k.kind).join(', ')})`);
    return fail();
  }
  if (typeof obj.apiVersion !== 'string' || obj.apiVersion === '') {
    p.error('apiVersion', `required field is missing (use '${preferredApiVersion(info)}')`);
  } else if (!acceptsApiVersion(info, obj.apiVersion)) {
    const accepted = info.versions.map((v) => (info.group ? `${info.group}/${v}` : v)).join(', ');
    p.error('apiVersion', `'${obj.apiVersion}' is not an apiVersion of ${info.kind} (accepted: ${accepted})`);
  }
  if (!isRecord(meta)) {
    p.error('metadata', 'required field is missing');
    return fail();
  }
  if (meta.name === undefined || meta.name === '') {
    p.error('metadata.name', 'required field is missing');
  } else if (typeof meta.name !== 'string') {
    p.error('metadata.name', `must be a string, got ${describeValue(meta.name)} (quote it in YAML)`);
  } else {
    const nameErr = LABEL_NAMED.has(info.kind) ? dns1123LabelError(meta.name) : dns1123SubdomainError(meta.name);
    if (nameErr) p.error('metadata.name', nameErr);
  }
  if (info.namespaced) {
    if (typeof meta.namespace !== 'string') p.error('metadata.namespace', 'must be a string');
    else {
      const nsErr = dns1123LabelError(meta.namespace);
      if (nsErr) p.error('metadata.namespace', nsErr);
    }
  } else if (meta.namespace !== undefined) {
    p.error('metadata.namespace', `${info.kind} is cluster-scoped and takes no namespace`);
  }
  const rv = meta.resourceVersion;
  if (rv !== undefined && rv !== '' && (typeof rv !== 'string' || !RESOURCE_VERSION.test(rv))) {
    p.error('metadata.resourceVersion', `${describeValue(rv)} is not a resourceVersion this server issued (a decimal number in a string); omit it or copy it from the stored object`);
  }
  for (const key of Object.keys(meta)) {
    // Strict like `kubectl --validate=strict`: a misspelt metadata field is an error, never silently dropped.
    if (!OBJECT_META_FIELDS.has(key)) p.error(`metadata.${printable(key)}`, `unknown field ${printable(JSON.stringify(key))}`);
  }
  for (const field of ['labels', 'annotations'] as const) {
    const m = meta[field];
    if (m === undefined) continue;
    if (!isRecord(m)) {
      p.error(`metadata.${field}`, 'must be a map of strings');
      continue;
    }
    const entries = Object.entries(m);
    // Size limits first, in one linear pass: an oversized map gets one message, not one per entry.
    if (field === 'labels' && entries.length > MAX_LABELS) {
      p.error('metadata.labels', `too many labels: ${entries.length}, at most ${MAX_LABELS} (keep bulk data in annotations or spec)`);
      continue;
    }
    if (field === 'annotations') {
      let bytes = 0;
      for (const [k, v] of entries) bytes += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0);
      if (bytes > MAX_ANNOTATIONS_BYTES) {
        p.error('metadata.annotations', `too long: keys and values total ${formatBytes(bytes)}, at most ${formatBytes(MAX_ANNOTATIONS_BYTES)}`);
        continue;
      }
    }
    for (const [k, v] of entries) {
      if (typeof v !== 'string') {
        p.error(`metadata.${field}.${printable(k)}`, `value must be a string (quote it in YAML), got ${printable(String(JSON.stringify(v)))}`);
        continue;
      }
      const keyErr = labelKeyError(k);
      if (keyErr) p.error(`metadata.${field}`, keyErr);
      if (field === 'labels') {
        const valErr = labelValueError(v);
        if (valErr) p.error(`metadata.labels.${printable(k)}`, valErr);
      }
    }
  }
  // After the metadata checks (which name an oversized annotation or label map precisely), before the spec rules.
  const tooLarge = p.errors.length === 0 ? objectSizeProblem(obj) : undefined;
  if (tooLarge) p.error(tooLarge.path, tooLarge.reason);
  const specValidator = SPEC_VALIDATORS.get(info.kind);
  if (specValidator && p.errors.length === 0) specValidator(obj, p);
  if (p.errors.length > 0) return fail();
  return { ok: true, object: obj, ignored: p.ignored };
}
