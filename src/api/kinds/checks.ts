// Shared field rules reused by every kind: ports, IPs and CIDRs, DNS names, durations, RE2-compatible regexes,
// label maps and selectors, wildcard strings, header names, duplicates and mutually exclusive fields.
import { isIP } from 'node:net';
import { labelKeyError, labelValueError } from '../labels.js';
import { dns1123LabelError, dns1123SubdomainError } from '../validate.js';
import { arr, enumOf, int, join, map, obj, req, str, strings, type Check, type Ctx, type IntegerSchema, type MapSchema, type ObjectSchema } from './schema.js';

// --- Ports ---

/** A TCP/UDP port number, 1-65535. */
export const port = (o: Omit<IntegerSchema, 'type' | 'min' | 'max'> = {}): IntegerSchema => int({ min: 1, max: 65535, ...o });

/** Why `name` is not an IANA service name (Kubernetes container port names, Service targetPort names). */
export function ianaSvcNameError(name: string): string | undefined {
  if (name.length > 15 || !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(name) || name.includes('--') || !/[a-z]/.test(name)) {
    return `${JSON.stringify(name)} is not a valid port name (at most 15 lowercase alphanumerics and '-', with at least one letter, no '--', starting and ending alphanumeric)`;
  }
  return undefined;
}
export const checkIanaSvcName: Check<string> = (v, path, { p }) => {
  const e = ianaSvcNameError(v);
  if (e) p.error(path, e);
};

/** A port given as a decimal string (Istio AuthorizationPolicy `ports`). */
export const checkPortString: Check<string> = (v, path, { p }) => {
  if (!/^[0-9]+$/.test(v)) p.error(path, `${JSON.stringify(v)} is not a port number`);
  else if (Number(v) < 1 || Number(v) > 65535) p.error(path, `${v} is out of range (1-65535)`);
};

/** A map key that must be a port number (PeerAuthentication `portLevelMtls`). */
export const checkPortKey: Check<string> = checkPortString;

// --- Addresses ---

/** Why `v` is not an IP address or CIDR (`10.0.0.0/8`, `fd00::/8`, `10.1.2.3`), or undefined. */
export function ipOrCidrError(v: string, allowCidr = true): string | undefined {
  const slash = v.indexOf('/');
  if (slash < 0) return isIP(v) ? undefined : `${JSON.stringify(v)} is not a valid IP address${allowCidr ? ' or CIDR' : ''}`;
  if (!allowCidr) return `${JSON.stringify(v)} is not a valid IP address (a CIDR is not allowed here)`;
  const family = isIP(v.slice(0, slash));
  const bits = v.slice(slash + 1);
  const max = family === 6 ? 128 : 32;
  if (family === 0 || !/^[0-9]{1,3}$/.test(bits) || Number(bits) > max) return `${JSON.stringify(v)} is not a valid CIDR`;
  return undefined;
}
export const checkIpOrCidr: Check<string> = (v, path, { p }) => {
  const e = ipOrCidrError(v);
  if (e) p.error(path, e);
};
export const checkIp: Check<string> = (v, path, { p }) => {
  const e = ipOrCidrError(v, false);
  if (e) p.error(path, e);
};
export const checkCidr: Check<string> = (v, path, { p }) => {
  const e = v.includes('/') ? ipOrCidrError(v) : `${JSON.stringify(v)} is not a valid CIDR (expected address/prefix-length)`;
  if (e) p.error(path, e);
};

// --- Names ---

export const checkDns1123Label: Check<string> = (v, path, { p }) => {
  const e = dns1123LabelError(v);
  if (e) p.error(path, e);
};
export const checkDns1123Subdomain: Check<string> = (v, path, { p }) => {
  const e = dns1123SubdomainError(v);
  if (e) p.error(path, e);
};

const HOST_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/i;

/** Why `v` is not a DNS hostname (optionally with a leading `*.` / bare `*` wildcard), or undefined. */
export function hostnameError(v: string, allowWildcard: boolean): string | undefined {
  let rest = v;
  if (allowWildcard) {
    if (v === '*') return undefined;
    if (v.startsWith('*.')) rest = v.slice(2);
  }
  const labels = rest.split('.');
  if (rest.length > 253 || labels.some((l) => l.length > 63 || !HOST_LABEL.test(l))) {
    return `${JSON.stringify(v)} is not a valid hostname${allowWildcard ? " (DNS labels, optionally starting with '*.')" : ''}`;
  }
  return undefined;
}
export const checkHostname: Check<string> = (v, path, { p }) => {
  const e = hostnameError(v, false);
  if (e) p.error(path, e);
};
export const checkWildcardHostname: Check<string> = (v, path, { p }) => {
  const e = hostnameError(v, true);
  if (e) p.error(path, e);
};

/** Istio match strings: exact, `prefix*`, `*suffix` or `*`; a `*` anywhere else never matches. */
export const checkWildcardString: Check<string> = (v, path, { p }) => {
  if (v === '') return p.error(path, 'must not be empty');
  const inner = v.slice(1, -1);
  if (v.length > 1 && (inner.includes('*') || (v.startsWith('*') && v.endsWith('*')))) {
    p.error(path, `${JSON.stringify(v)}: '*' is only allowed once, as a prefix or a suffix (exact, "prefix*", "*suffix" or "*")`);
  }
};

// RFC 7230 token characters (HTTP header names).
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
export const checkHeaderName: Check<string> = (v, path, { p }) => {
  if (!TOKEN.test(v)) p.error(path, `${JSON.stringify(v)} is not a valid HTTP header name`);
};

/** Absolute http(s) URL. */
export const checkHttpUrl: Check<string> = (v, path, { p }) => {
  let ok = false;
  try {
    const u = new URL(v);
    ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    ok = false;
  }
  if (!ok) p.error(path, `${JSON.stringify(v)} is not an http or https URL`);
};

// --- Durations ---

const GO_UNITS_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, 'µs': 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds of a Go/Istio duration (`1h30m`, `1.5s`, `250ms`), or undefined when it does not parse. */
export function parseIstioDurationMs(v: string): number | undefined {
  if (v === '0') return 0;
  const re = /([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let at = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(v))) {
    total += Number(m[1]) * GO_UNITS_MS[m[2]!]!;
    at = re.lastIndex;
  }
  return at === v.length && at > 0 ? total : undefined;
}
export const checkIstioDuration: Check<string> = (v, path, { p }) => {
  const ms = parseIstioDurationMs(v);
  if (ms === undefined) p.error(path, `${JSON.stringify(v)} is not a duration (e.g. "500ms", "10s", "1m30s")`);
};
/** An Istio duration of at least 1ms (timeouts and intervals that must be positive). */
export const checkPositiveIstioDuration: Check<string> = (v, path, ctx) => {
  const ms = parseIstioDurationMs(v);
  if (ms === undefined) return checkIstioDuration(v, path, ctx);
  if (ms < 1) ctx.p.error(path, `${JSON.stringify(v)} must be at least 1ms`);
};

const GATEWAY_DURATION = /^([0-9]{1,5}(h|m|s|ms)){1,4}$/;
/** Milliseconds of a Gateway API duration (GEP-2257: 1-4 of `<1-5 digits><h|m|s|ms>`), or undefined. */
export function parseGatewayDurationMs(v: string): number | undefined {
  if (!GATEWAY_DURATION.test(v)) return undefined;
  let total = 0;
  for (const m of v.matchAll(/([0-9]+)(ms|h|m|s)/g)) total += Number(m[1]) * GO_UNITS_MS[m[2]!]!;
  return total;
}
export const checkGatewayDuration: Check<string> = (v, path, { p }) => {
  if (parseGatewayDurationMs(v) === undefined) {
    p.error(path, `${JSON.stringify(v)} is not a Gateway API duration (1-4 groups of up to 5 digits and a unit h, m, s or ms, e.g. "10s", "1m30s", "500ms")`);
  }
};

// --- Regular expressions (RE2 dialect, as Envoy evaluates them) ---

/**
 * Why `source` is not an RE2 regex Envoy would accept, or undefined. The pattern is compiled with JS `RegExp` in
 * unicode mode after mapping RE2-only syntax (`(?P<name>`, `(?i)`, `\A`, `\z`, `[[:alpha:]]`, escaped punctuation)
 * onto JS; constructs RE2 lacks (lookaround, backreferences) are refused even though JS has them.
 */
export function regexError(source: string): string | undefined {
  let js = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined) return 'trailing backslash';
      if (/[1-9]/.test(n)) return `backreference \\${n} is not supported by RE2`;
      if (n === 'k' && source[i + 2] === '<') return 'named backreference is not supported by RE2';
      if (n === 'A') js += '^';
      else if (n === 'z') js += '$';
      else if (/[!-/:-@[-`{-~]/.test(n)) js += `\\x${n.charCodeAt(0).toString(16).padStart(2, '0')}`;
      else js += c + n;
      i++;
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2);
      if (/^(<=|<!|=|!)/.test(rest)) return 'lookaround assertions are not supported by RE2';
      if (rest.startsWith('P=')) return 'named backreference is not supported by RE2';
      if (rest.startsWith('P<')) {
        js += '(?<';
        i += 3;
        continue;
      }
      const flags = /^[imsU-]+([):])/.exec(rest);
      if (flags) {
        // Inline flags change matching, not validity: drop them for the compile check.
        js += flags[1] === ':' ? '(?:' : '';
        i += 1 + flags[0].length;
        continue;
      }
    }
    if (c === '[' && source[i + 1] === '[' && /^\[\[:\^?[a-z]+:\]/.test(source.slice(i))) {
      const cls = /^\[:\^?[a-z]+:\]/.exec(source.slice(i + 1))!;
      js += '[a';
      i += cls[0].length;
      continue;
    }
    js += c;
  }
  for (const m of source.matchAll(/\{([0-9]+)(?:,([0-9]*))?\}/g)) {
    if (Number(m[1]) > 1000 || (m[2] && Number(m[2]) > 1000)) return `repetition count ${m[0]} exceeds RE2's limit of 1000`;
  }
  try {
    new RegExp(js, 'u');
    return undefined;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const colon = msg.lastIndexOf(': ');
    return colon >= 0 ? msg.slice(colon + 2) : msg;
  }
}
export const checkRegex: Check<string> = (v, path, { p }) => {
  const e = regexError(v);
  if (e !== undefined) p.error(path, `invalid regular expression ${JSON.stringify(v)}: ${e}`);
};

// --- Labels and selectors ---

const checkLabelKey: Check<string> = (k, path, { p }) => {
  const e = labelKeyError(k);
  if (e) p.error(path, e);
};
const checkLabelValue: Check<string> = (v, path, { p }) => {
  const e = labelValueError(v);
  if (e) p.error(path, e);
};

/** A `labels`/`matchLabels` map: valid label keys and values. */
export const labelMap = (): MapSchema => map(str({ check: checkLabelValue }), { keyCheck: checkLabelKey });

const SELECTOR_OPERATORS = ['In', 'NotIn', 'Exists', 'DoesNotExist'] as const;

/** A Kubernetes `LabelSelector` (`matchLabels` + `matchExpressions`). */
export const labelSelector = (): ObjectSchema =>
  obj({
    matchLabels: labelMap(),
    matchExpressions: arr(
      obj(
        {
          key: req(str({ check: checkLabelKey })),
          operator: req(enumOf(SELECTOR_OPERATORS)),
          values: strings({ check: checkLabelValue }),
        },
        {
          check: (e, path, { p }) => {
            const values = (e['values'] as string[] | undefined) ?? [];
            const op = e['operator'] as string;
            if ((op === 'In' || op === 'NotIn') && values.length === 0) p.error(join(path, 'values'), `must not be empty for operator ${op}`);
            if ((op === 'Exists' || op === 'DoesNotExist') && values.length > 0) p.error(join(path, 'values'), `must be empty for operator ${op}`);
          },
        },
      ),
    ),
  });

/** Istio's `WorkloadSelector`: `matchLabels` only. */
export const workloadSelector = (): ObjectSchema => obj({ matchLabels: labelMap() });

// --- Cross-field helpers ---

/** Reports every item whose key was already seen: `duplicate <what> <value> (also at <first path>)`. */
export function checkUnique<T>(
  items: readonly T[],
  key: (item: T, index: number) => { value: unknown; path: string; show?: string } | undefined,
  what: string,
  ctx: Ctx,
): void {
  const seen = new Map<string, string>();
  items.forEach((item, i) => {
    const k = key(item, i);
    if (!k || k.value === undefined) return;
    const id = JSON.stringify(k.value);
    const first = seen.get(id);
    const shown = k.show ?? (typeof k.value === 'string' ? JSON.stringify(k.value) : String(k.value));
    if (first !== undefined) ctx.p.error(k.path, `duplicate ${what} ${shown} (also at ${first})`);
    else seen.set(id, k.path);
  });
}

/** Reports `b` when both `a` and `b` are set on `o` (paths relative to `path`). */
export function checkExclusive(o: Record<string, unknown>, path: string, a: string, b: string, ctx: Ctx): boolean {
  if (isSet(o[a]) && isSet(o[b])) {
    ctx.p.error(join(path, b), `must not be set together with ${join(path, a)} (they are mutually exclusive)`);
    return false;
  }
  return true;
}

/** Present and not an empty list (an empty list means "unset" for Kubernetes and Istio alike). */
export function isSet(v: unknown): boolean {
  if (v === undefined || v === null) return false;
  if (Array.isArray(v)) return v.length > 0;
  return true;
}
