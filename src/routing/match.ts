// Request matching primitives shared by the route kinds: RE2 regexes, segment-wise path prefixes, headers, query.

/** An RE2 pattern (as Envoy evaluates it) compiled to a JS RegExp that must match the whole input, or why not. */
export function compileRe2(source: string, ignoreCase = false): RegExp | { error: string } {
  let flags = ignoreCase ? 'i' : '';
  let js = '';
  let i = 0;
  // A leading flag group `(?i)` / `(?s)` applies to the whole pattern: map it to JS flags.
  const lead = /^\(\?([is]+)\)/.exec(source);
  if (lead) {
    for (const f of lead[1]!) if (!flags.includes(f)) flags += f;
    i = lead[0].length;
  }
  for (; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const n = source[i + 1];
      if (n === undefined) return { error: 'trailing backslash' };
      if (n === 'A') js += '^';
      else if (n === 'z') js += '$';
      else if (/[1-9]/.test(n)) return { error: `backreference \\${n} is not RE2` };
      else js += c + n;
      i++;
      continue;
    }
    if (c === '(' && source[i + 1] === '?') {
      const rest = source.slice(i + 2);
      if (rest.startsWith('P<')) {
        js += '(?<';
        i += 3;
        continue;
      }
      if (/^(<=|<!|=|!)/.test(rest)) return { error: 'lookaround is not RE2' };
      if (/^[imsU-]+[):]/.test(rest)) return { error: 'inline flags other than a leading (?i)/(?s) are not supported' };
    }
    if (c === '[' && source.startsWith('[[:', i)) return { error: 'POSIX character classes are not supported' };
    js += c;
  }
  try {
    return new RegExp(`^(?:${js})$`, flags);
  } catch (err) {
    return { error: (err as Error).message };
  }
}

/** Splits `/a/b?x=1` into path and query (without `?`). */
export function splitPath(pathWithQuery: string): { path: string; query: string } {
  const q = pathWithQuery.indexOf('?');
  return q < 0 ? { path: pathWithQuery, query: '' } : { path: pathWithQuery.slice(0, q), query: pathWithQuery.slice(q + 1) };
}

/** RFC 3986 remove_dot_segments on an absolute path (`/a/./b/../c` → `/a/c`); other paths are returned as they are. */
export function normalizePath(path: string): string {
  if (!path.startsWith('/') || !/\/\.\.?(\/|$)/.test(path)) return path;
  const segs = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i]!;
    const last = i === segs.length - 1;
    if (s === '.' || s === '..') {
      if (s === '..') out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(s);
  }
  return `/${out.join('/')}`;
}

/** Gateway API PathPrefix: element-wise; a trailing `/` in the prefix is ignored, so `/foo` matches `/foo/x`, not `/foobar`. */
export function normalizePrefix(prefix: string): string {
  let p = prefix;
  while (p.length > 1 && p.endsWith('/')) p = p.slice(0, -1);
  return p;
}

export function segmentPrefixMatches(path: string, normalizedPrefix: string): boolean {
  if (normalizedPrefix === '/' || normalizedPrefix === '') return true;
  if (!path.startsWith(normalizedPrefix)) return false;
  return path.length === normalizedPrefix.length || path.charCodeAt(normalizedPrefix.length) === 47; /* '/' */
}

/** A header's value as Envoy matches it: repeated headers joined with `,`; undefined when absent. */
export function headerValue(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

/** The first value of each query parameter (Envoy matches the first occurrence), names and values URL-decoded. */
export function parseQuery(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!query) return out;
  for (const part of query.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const name = decode(eq < 0 ? part : part.slice(0, eq));
    if (!out.has(name)) out.set(name, decode(eq < 0 ? '' : part.slice(eq + 1)));
  }
  return out;
}

function decode(s: string): string {
  try {
    // Percent-decoding only: `+` stays `+` (Envoy does not apply form encoding to the query).
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Host without port, lowercase (Gateway API: ignore the port of the Host header when matching). */
export function hostOf(authority: string): string {
  if (authority.startsWith('[')) {
    const end = authority.indexOf(']');
    return (end < 0 ? authority : authority.slice(0, end + 1)).toLowerCase();
  }
  const colon = authority.lastIndexOf(':');
  return (colon < 0 ? authority : authority.slice(0, colon)).toLowerCase();
}

/** A string test compiled from Exact / RegularExpression / prefix (VirtualService StringMatch). */
export type StringTest = (v: string) => boolean;

export function exactTest(want: string, ignoreCase = false): StringTest {
  if (!ignoreCase) return (v) => v === want;
  const w = want.toLowerCase();
  return (v) => v.toLowerCase() === w;
}

export function prefixTest(want: string, ignoreCase = false): StringTest {
  if (!ignoreCase) return (v) => v.startsWith(want);
  const w = want.toLowerCase();
  return (v) => v.toLowerCase().startsWith(w);
}

export function regexTest(re: RegExp): StringTest {
  return (v) => re.test(v);
}
