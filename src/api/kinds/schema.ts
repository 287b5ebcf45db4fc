// A small table-driven schema language for resource specs: types, required fields, enums, unknown-field rejection,
// per-node checks and "valid but ignored" markers, walked once per object to fill a `Problems`.
import type { KubeObject } from '../meta.js';
import { registerSpecValidator, type Problems } from '../validate.js';
import { checkAmbientLabels } from './ambient-labels.js';

/** What a check sees besides the value: the whole object (for its namespace) and the problem sink. */
export interface Ctx {
  readonly obj: KubeObject;
  readonly p: Problems;
}

export type Check<T> = (value: T, path: string, ctx: Ctx) => void;

/**
 * Why a present field is stored but not acted on, or undefined when it is acted on. A string applies to any value;
 * a function can look at the value (e.g. only `action: CUSTOM` is ignored).
 */
type IgnoreRule = string | ((value: unknown, ctx: Ctx) => string | undefined);

interface Common {
  /** Absent (or null) is an error. */
  required?: boolean;
  ignore?: IgnoreRule;
}

interface StringSchema extends Common {
  type: 'string';
  enum?: readonly string[];
  /** Empty string is refused ("must not be empty"). */
  nonEmpty?: boolean;
  maxLength?: number;
  check?: Check<string>;
}
export interface IntegerSchema extends Common {
  type: 'integer';
  min?: number;
  max?: number;
  check?: Check<number>;
}
interface NumberSchema extends Common {
  type: 'number';
  min?: number;
  max?: number;
}
interface BooleanSchema extends Common {
  type: 'boolean';
}
export interface ObjectSchema extends Common {
  type: 'object';
  fields: Readonly<Record<string, Schema>>;
  /** Unknown keys are allowed (status objects written by other components). */
  open?: boolean;
  /** Cross-field rules, run after every field was checked (only when the fields themselves had no error). */
  check?: Check<Record<string, unknown>>;
}
interface ArraySchema extends Common {
  type: 'array';
  items: Schema;
  minItems?: number;
  maxItems?: number;
  check?: Check<unknown[]>;
}
export interface MapSchema extends Common {
  type: 'map';
  values: Schema;
  keyCheck?: Check<string>;
}
/** Kubernetes IntOrString (e.g. `targetPort`). */
interface IntOrStringSchema extends Common {
  type: 'int-or-string';
  check?: Check<number | string>;
}
/** Anything, not descended into (free-form or ignored subtrees such as Pod volumes). */
interface AnySchema extends Common {
  type: 'any';
  check?: Check<unknown>;
}

export type Schema =
  | StringSchema
  | IntegerSchema
  | NumberSchema
  | BooleanSchema
  | ObjectSchema
  | ArraySchema
  | MapSchema
  | IntOrStringSchema
  | AnySchema;

// --- Builders (each returns a fresh node; `req` and `ignored` decorate a copy) ---

export const str = (o: Omit<StringSchema, 'type'> = {}): StringSchema => ({ type: 'string', ...o });
export const int = (o: Omit<IntegerSchema, 'type'> = {}): IntegerSchema => ({ type: 'integer', ...o });
export const num = (o: Omit<NumberSchema, 'type'> = {}): NumberSchema => ({ type: 'number', ...o });
export const bool = (o: Omit<BooleanSchema, 'type'> = {}): BooleanSchema => ({ type: 'boolean', ...o });
export const obj = (fields: Record<string, Schema>, o: Omit<ObjectSchema, 'type' | 'fields'> = {}): ObjectSchema => ({ type: 'object', fields, ...o });
export const arr = (items: Schema, o: Omit<ArraySchema, 'type' | 'items'> = {}): ArraySchema => ({ type: 'array', items, ...o });
export const map = (values: Schema, o: Omit<MapSchema, 'type' | 'values'> = {}): MapSchema => ({ type: 'map', values, ...o });
export const intOrString = (o: Omit<IntOrStringSchema, 'type'> = {}): IntOrStringSchema => ({ type: 'int-or-string', ...o });
export const any = (o: Omit<AnySchema, 'type'> = {}): AnySchema => ({ type: 'any', ...o });
export const enumOf = (values: readonly string[], o: Omit<StringSchema, 'type' | 'enum'> = {}): StringSchema => ({ type: 'string', enum: values, ...o });
/** A list of strings (the most common list). */
export const strings = (item: Omit<StringSchema, 'type'> = {}, o: Omit<ArraySchema, 'type' | 'items'> = {}): ArraySchema => arr(str(item), o);

export function req<S extends Schema>(s: S): S {
  return { ...s, required: true };
}
export function ignored<S extends Schema>(s: S, rule: IgnoreRule): S {
  return { ...s, ignore: rule };
}

// --- Walking ---

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** How a wrong-typed value reads in a message: `the string "80"`, `a list`, … */
function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return `the string ${JSON.stringify(v)}`;
    case 'number':
      return `the number ${v}`;
    case 'boolean':
      return `the boolean ${v}`;
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}

const EXPECTED: Record<Schema['type'], string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean',
  object: 'an object',
  array: 'a list',
  map: 'a map',
  'int-or-string': 'an integer or a string',
  any: 'a value',
};

/** `a.b` / `a[0]` path joining (the message format of every validation line). */
export function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Whether the list of error messages grew since `mark`. */
function grew(ctx: Ctx, mark: number): boolean {
  return ctx.p.errors.length > mark;
}

/**
 * Checks `value` (present, non-null) against `s` at `path`. Null-valued fields of objects are treated as absent and
 * dropped, as the Kubernetes API server does, so typed consumers never see `null` where a field is optional.
 */
function walk(s: Schema, value: unknown, path: string, ctx: Ctx): void {
  const { p } = ctx;
  const wrongType = (): void => p.error(path, `expected ${EXPECTED[s.type]}, got ${describeValue(value)}`);
  if (s.ignore !== undefined) {
    const reason = typeof s.ignore === 'string' ? s.ignore : s.ignore(value, ctx);
    if (reason) p.ignore(path, reason);
  }
  switch (s.type) {
    case 'string': {
      if (typeof value !== 'string') return wrongType();
      if (s.enum && !s.enum.includes(value)) return p.error(path, `unknown value ${JSON.stringify(value)} (accepted: ${s.enum.join(', ')})`);
      if (s.nonEmpty && value === '') return p.error(path, 'must not be empty');
      if (s.maxLength !== undefined && value.length > s.maxLength) return p.error(path, `must be at most ${s.maxLength} characters long`);
      s.check?.(value, path, ctx);
      return;
    }
    case 'integer': {
      if (typeof value !== 'number' || !Number.isInteger(value)) return wrongType();
      if ((s.min !== undefined && value < s.min) || (s.max !== undefined && value > s.max)) {
        return p.error(path, `${value} is out of range (${rangeText(s.min, s.max)})`);
      }
      s.check?.(value, path, ctx);
      return;
    }
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return wrongType();
      if ((s.min !== undefined && value < s.min) || (s.max !== undefined && value > s.max)) {
        return p.error(path, `${value} is out of range (${rangeText(s.min, s.max)})`);
      }
      return;
    }
    case 'boolean':
      if (typeof value !== 'boolean') wrongType();
      return;
    case 'int-or-string':
      if (typeof value === 'string' || (typeof value === 'number' && Number.isInteger(value))) s.check?.(value, path, ctx);
      else wrongType();
      return;
    case 'any':
      s.check?.(value, path, ctx);
      return;
    case 'array': {
      if (!Array.isArray(value)) return wrongType();
      if (s.minItems !== undefined && value.length < s.minItems) {
        return p.error(path, s.minItems === 1 ? 'must not be empty' : `must have at least ${s.minItems} items`);
      }
      if (s.maxItems !== undefined && value.length > s.maxItems) return p.error(path, `must have at most ${s.maxItems} items, got ${value.length}`);
      const mark = p.errors.length;
      value.forEach((item, i) => {
        const at = `${path}[${i}]`;
        if (item === null || item === undefined) p.error(at, `expected ${EXPECTED[s.items.type]}, got null`);
        else walk(s.items, item, at, ctx);
      });
      if (!grew(ctx, mark)) s.check?.(value, path, ctx);
      return;
    }
    case 'map': {
      if (!isRecord(value)) return wrongType();
      for (const [k, v] of Object.entries(value)) {
        const at = join(path, k);
        s.keyCheck?.(k, at, ctx);
        if (v === null || v === undefined) p.error(at, `expected ${EXPECTED[s.values.type]}, got null`);
        else walk(s.values, v, at, ctx);
      }
      return;
    }
    case 'object': {
      if (!isRecord(value)) return wrongType();
      walkFields(s, value, path, ctx);
      return;
    }
  }
}

/** The fields of an object node: unknown keys (input order), known keys, missing required keys, then `check`. */
function walkFields(s: ObjectSchema, value: Record<string, unknown>, path: string, ctx: Ctx): void {
  const { p } = ctx;
  const mark = p.errors.length;
  for (const k of Object.keys(value)) {
    const at = join(path, k);
    const fs = Object.prototype.hasOwnProperty.call(s.fields, k) ? s.fields[k] : undefined;
    if (!fs) {
      if (!s.open) p.error(at, `unknown field ${JSON.stringify(k)}`);
      continue;
    }
    const v = value[k];
    if (v === null || v === undefined) {
      delete value[k];
      continue;
    }
    walk(fs, v, at, ctx);
  }
  for (const [k, fs] of Object.entries(s.fields)) {
    if (fs.required && (value[k] === undefined || value[k] === null)) p.error(join(path, k), 'required field is missing');
  }
  if (!grew(ctx, mark)) s.check?.(value, path, ctx);
}

function rangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `${min}-${max}`;
  if (min !== undefined) return `at least ${min}`;
  return `at most ${max}`;
}

// --- Kind registration ---

/** Top-level fields every kind has; `spec`, `status` and extras come from the kind's definition. */
const ENVELOPE = ['apiVersion', 'kind', 'metadata'];

interface KindDefinition {
  /** The spec schema; absent for kinds without a spec (ServiceAccount). */
  spec?: ObjectSchema;
  /** Spec may be omitted entirely (treated as `{}`). */
  specOptional?: boolean;
  /** Status schema; defaults to an open object with well-formed `conditions`. */
  status?: ObjectSchema;
  /** Other top-level fields (ServiceAccount's `secrets`, …). */
  topLevel?: Record<string, Schema>;
  /** Rules that look at the whole object (annotations…), run after the schema walk and the ambient label checks. */
  check?: (obj: KubeObject, ctx: Ctx) => void;
}

const CONDITION = obj(
  {
    type: req(str({ nonEmpty: true })),
    status: req(enumOf(['True', 'False', 'Unknown'])),
    reason: str(),
    message: str(),
    lastTransitionTime: str(),
    observedGeneration: int({ min: 0 }),
  },
  { open: true },
);

/** An open status object whose `conditions`, when present, are well formed. */
export function statusSchema(fields: Record<string, Schema> = {}): ObjectSchema {
  return obj({ conditions: arr(CONDITION), ...fields }, { open: true });
}

const ROOTS = new Map<string, ObjectSchema>();

/** The schema of a kind's top-level fields besides apiVersion, kind and metadata (spec, status, …). */
export function kindSchema(kind: string): ObjectSchema | undefined {
  return ROOTS.get(kind);
}

/** Registers a kind's schema-driven validator with `validateObject`. */
export function defineKind(kind: string, def: KindDefinition): void {
  const top: Record<string, Schema> = { ...(def.topLevel ?? {}) };
  if (def.spec) top['spec'] = def.specOptional ? def.spec : req(def.spec);
  top['status'] = def.status ?? statusSchema();
  const root = obj(top);
  ROOTS.set(kind, root);
  registerSpecValidator(kind, (o, p) => {
    const ctx: Ctx = { obj: o, p };
    const rest: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (!ENVELOPE.includes(k)) rest[k] = v;
    walkFields(root, rest, '', ctx);
    // walkFields drops null-valued fields from `rest`; mirror that onto the object itself.
    for (const k of Object.keys(o)) if (!ENVELOPE.includes(k) && !(k in rest)) delete o[k];
    if (p.errors.length > 0) return;
    checkAmbientLabels(o, ctx);
    def.check?.(o, ctx);
  });
}
