// Size and shape limits on objects (Kubernetes' where it has one): they keep hostile input from costing memory or CPU.

/** Levels of maps and lists an object may nest (the object itself is level 1); deeper input is refused unread. */
export const MAX_NESTING_DEPTH = 100;
/** Bytes (UTF-8) of all annotation keys and values together: Kubernetes' limit (256 KiB). */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;
/**
 * Labels per object. Kubernetes bounds each key and value but not their count; Ambit also bounds the count so that
 * label-selector matching, `get --show-labels` and the watch history stay cheap. With keys of at most 317 and values
 * of at most 63 characters this also bounds the labels to about 380 KB.
 */
export const MAX_LABELS = 1000;
/** Bytes of an object as JSON: etcd's default request limit (1.5 MiB), the largest object Kubernetes can store. */
const MAX_OBJECT_BYTES = 1.5 * 1024 * 1024;
/** Bytes of a request body the API server reads (Kubernetes' API server has the same limit, 3 MiB). */
export const MAX_REQUEST_BYTES = 3 * 1024 * 1024;

interface LimitProblem {
  path: string;
  reason: string;
}

/** A byte count for messages: `2.7 MiB (2831155 bytes)`. */
export function formatBytes(n: number): string {
  const units = [
    [1024 * 1024, 'MiB'],
    [1024, 'KiB'],
  ] as const;
  for (const [size, unit] of units) {
    if (n >= size) return `${(n / size).toFixed(2).replace(/\.?0+$/, '')} ${unit} (${n} bytes)`;
  }
  return `${n} bytes`;
}

function isContainer(v: unknown): v is Record<string, unknown> | unknown[] {
  return typeof v === 'object' && v !== null;
}

/** `spec.a[0].b`-style path from the segments of a walk (keys that are not identifiers are quoted). */
function pathOf(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s.length > 64 ? `${s.slice(0, 64)}…` : s)}]`;
  }
  return out;
}

/**
 * The first place where `value` nests deeper than `limit` levels, or undefined. Iterative (an explicit stack), so
 * input of any depth is measured without exhausting the call stack; stops at the first offender.
 */
export function nestingProblem(value: unknown, limit = MAX_NESTING_DEPTH): LimitProblem | undefined {
  if (!isContainer(value)) return undefined;
  // Frames link to their parent instead of copying the path, so the walk stays linear in the size of the input.
  interface Frame {
    v: Record<string, unknown> | unknown[];
    key: string | number;
    parent: Frame | undefined;
    depth: number;
  }
  const stack: Frame[] = [{ v: value, key: '', parent: undefined, depth: 1 }];
  while (stack.length > 0) {
    const frame = stack.pop()!;
    const keys: Array<string | number> = Array.isArray(frame.v) ? frame.v.map((_, i) => i) : Object.keys(frame.v);
    for (const k of keys) {
      const child = (frame.v as Record<string | number, unknown>)[k];
      if (!isContainer(child)) continue;
      const next: Frame = { v: child, key: k, parent: frame, depth: frame.depth + 1 };
      if (next.depth > limit) {
        const segments: Array<string | number> = [];
        for (let f: Frame | undefined = next; f?.parent; f = f.parent) segments.push(f.key);
        return { path: pathOf(segments.reverse()), reason: `nested more than ${limit} levels deep (maps and lists inside each other)` };
      }
      stack.push(next);
    }
  }
  return undefined;
}

/** Why `obj` (a JSON value) is too large to store, naming its largest top-level field, or undefined. */
export function objectSizeProblem(obj: unknown, limit = MAX_OBJECT_BYTES): LimitProblem | undefined {
  const total = Buffer.byteLength(JSON.stringify(obj) ?? '');
  if (total <= limit) return undefined;
  let largest = '';
  let largestBytes = -1;
  if (isContainer(obj) && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj)) {
      const n = Buffer.byteLength(JSON.stringify(v) ?? '');
      if (n > largestBytes) [largest, largestBytes] = [k, n];
    }
  }
  const where = largest ? `; ${largest} holds ${formatBytes(largestBytes)}` : '';
  return { path: largest || '<object>', reason: `the object is ${formatBytes(total)} as JSON, more than the ${formatBytes(limit)} an object may have${where}` };
}
