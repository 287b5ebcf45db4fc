// Request/response rewriting helpers the proxy applies after a decision: header edits, path rewrites, redirect URLs.
import type { HeaderEdits } from './types.js';
import { hostOf, normalizePrefix, splitPath } from './match.js';

type HeaderMap = Record<string, string | string[] | undefined>;

/** Path modifier of URLRewrite / RequestRedirect (Gateway API `HTTPPathModifier`). */
export interface PathRewrite {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export function emptyEdits(): HeaderEdits {
  return { set: [], add: [], remove: [] };
}

/** Concatenates edit lists, later ones applied after earlier ones. */
export function mergeEdits(a: HeaderEdits, b: HeaderEdits): HeaderEdits {
  if (!b.set.length && !b.add.length && !b.remove.length) return a;
  if (!a.set.length && !a.add.length && !a.remove.length) return b;
  return { set: [...a.set, ...b.set], add: [...a.add, ...b.add], remove: [...a.remove, ...b.remove] };
}

/**
 * Applies edits in place, in Gateway API order: set, then add, then remove (a header both added and removed is
 * gone). Names in `headers` must be lowercase. `add` appends a value: a second value of the header (the HTTP/1.1
 * writer may join them with `, `).
 */
export function applyHeaderEdits(headers: HeaderMap, edits: HeaderEdits): HeaderMap {
  for (const { name, value } of edits.set) headers[name] = value;
  for (const { name, value } of edits.add) {
    const cur = headers[name];
    if (cur === undefined) headers[name] = value;
    else if (Array.isArray(cur)) cur.push(value);
    else headers[name] = [cur, value];
  }
  for (const name of edits.remove) delete headers[name];
  return headers;
}

/**
 * The request path (with query) after a Gateway API path modifier. `matchedPrefix` is the PathPrefix value the
 * rule matched on (needed for ReplacePrefixMatch). Prefix replacement is element-wise: `/foo/bar` with prefix
 * `/foo` and replacement `/xyz` gives `/xyz/bar`; replacement `` or `/` gives `/bar`; `/foo` alone becomes `/xyz`.
 */
export function rewritePath(pathWithQuery: string, matchedPrefix: string | undefined, rewrite: PathRewrite): string {
  const { path, query } = splitPath(pathWithQuery);
  const q = query ? `?${query}` : pathWithQuery.endsWith('?') ? '?' : '';
  if (rewrite.type === 'ReplaceFullPath') return (rewrite.replaceFullPath ?? '/') + q;
  const prefix = normalizePrefix(matchedPrefix ?? '/');
  const rest = prefix === '/' ? path : path.slice(prefix.length); // '' or starts with '/'
  let repl = rewrite.replacePrefixMatch ?? '/';
  if (repl.endsWith('/') && rest.startsWith('/')) repl = repl.slice(0, -1);
  let out = repl + rest;
  if (out === '') out = '/';
  else if (!out.startsWith('/')) out = `/${out}`;
  return out + q;
}

/** Gateway API RequestRedirect, as a decision-time description. */
export interface RedirectSpec {
  scheme?: string;
  hostname?: string;
  port?: number;
  path?: PathRewrite;
  statusCode: number;
}

/**
 * The `Location` of a Gateway API redirect. Unset scheme/host/path keep the request's; the port is the explicit
 * one, else the scheme's well-known port when the scheme changes, else the port the request came in on (the
 * "listener" port: the service port). Port 80 for http and 443 for https are left out of the URL.
 */
export function redirectLocation(
  req: { scheme: string; authority: string; path: string },
  listenerPort: number,
  r: RedirectSpec,
  matchedPrefix: string | undefined,
): string {
  const scheme = r.scheme ?? req.scheme;
  const host = r.hostname ?? hostOf(req.authority);
  let port: number;
  if (r.port !== undefined) port = r.port;
  else if (r.scheme !== undefined) port = r.scheme === 'https' ? 443 : r.scheme === 'http' ? 80 : listenerPort;
  else port = listenerPort;
  const defaultPort = (scheme === 'http' && port === 80) || (scheme === 'https' && port === 443);
  const path = r.path ? rewritePath(req.path, matchedPrefix, r.path) : req.path;
  return `${scheme}://${host}${defaultPort ? '' : `:${port}`}${path}`;
}
