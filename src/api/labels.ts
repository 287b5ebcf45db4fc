// Label selectors: parsing the kubectl/REST string form and matching label maps against it.
import { quoted } from './meta.js';

export interface LabelRequirement {
  key: string;
  op: 'in' | 'notin' | 'exists' | 'doesnotexist';
  values: string[];
}

type SelectorParse = { ok: true; requirements: LabelRequirement[] } | { ok: false; error: string };

// Qualified name: optional DNS-subdomain prefix + '/', then a name of up to 63 alphanumerics, '-', '_', '.'.
const KEY_RE = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Why `key` is not a valid label key, or undefined when it is. */
export function labelKeyError(key: string): string | undefined {
  if (!KEY_RE.test(key)) return `invalid label key ${quoted(key)}: must be [prefix/]name, name ≤63 alphanumerics, '-', '_' or '.'`;
  const slash = key.indexOf('/');
  if (slash > 253) return `invalid label key ${quoted(key)}: prefix longer than 253 characters`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined when it is. */
export function labelValueError(value: string): string | undefined {
  if (value.length > 63 || !VALUE_RE.test(value)) {
    return `invalid label value ${quoted(value)}: at most 63 alphanumerics, '-', '_' or '.', starting and ending alphanumeric`;
  }
  return undefined;
}

/**
 * Parses `a=b,c!=d,e in (x,y),f notin (z),g,!h` (kubectl's syntax; `==` equals `=`).
 * An empty string selects everything.
 */
export function parseLabelSelector(text: string): SelectorParse {
  const reqs: LabelRequirement[] = [];
  const parts: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (depth !== 0) return { ok: false, error: `unbalanced parentheses in selector '${text}'` };
  if (cur.trim() || parts.length) parts.push(cur);
  for (const raw of parts) {
    const p = raw.trim();
    if (!p) return { ok: false, error: `empty requirement in selector '${text}'` };
    let m: RegExpMatchArray | null;
    let req: LabelRequirement;
    if ((m = p.match(/^(\S+)\s+(in|notin)\s*\((.*)\)$/))) {
      const values = m[3]!.split(',').map((v) => v.trim());
      // Kubernetes refuses an empty value set: `in ()` would select nothing and `notin ()` everything.
      if (values.length === 1 && values[0] === '') return { ok: false, error: `'${m[2]}' needs at least one value in '${p}'` };
      req = { key: m[1]!, op: m[2] as 'in' | 'notin', values };
    } else if ((m = p.match(/^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/))) {
      req = { key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] };
    } else if ((m = p.match(/^!\s*(\S+)$/))) {
      req = { key: m[1]!, op: 'doesnotexist', values: [] };
    } else if ((m = p.match(/^(\S+)$/))) {
      req = { key: m[1]!, op: 'exists', values: [] };
    } else {
      return { ok: false, error: `cannot parse requirement '${p}' in selector '${text}'` };
    }
    const keyErr = labelKeyError(req.key);
    if (keyErr) return { ok: false, error: keyErr };
    for (const v of req.values) {
      const valErr = labelValueError(v);
      if (valErr) return { ok: false, error: valErr };
    }
    reqs.push(req);
  }
  return { ok: true, requirements: reqs };
}

/** Whether `labels` satisfies every requirement. */
export function selectorMatches(reqs: readonly LabelRequirement[], labels: Readonly<Record<string, string>> | undefined): boolean {
  const l = labels ?? {};
  for (const r of reqs) {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case 'exists':
        if (!has) return false;
        break;
      case 'doesnotexist':
        if (has) return false;
        break;
      case 'in':
        if (!has || !r.values.includes(l[r.key]!)) return false;
        break;
      case 'notin':
        if (has && r.values.includes(l[r.key]!)) return false;
        break;
    }
  }
  return true;
}

/** Whether `labels` contains every key/value of a `matchLabels` map (an empty map matches everything). */
export function matchLabels(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> | undefined): boolean {
  for (const [k, v] of Object.entries(selector)) if (labels?.[k] !== v) return false;
  return true;
}
