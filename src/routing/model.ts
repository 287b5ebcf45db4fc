// Internal compiled form of routes (what decisions walk) and small readers for raw JSON specs.
import type { PathRewrite, RedirectSpec } from './edits.js';
import type { StringTest } from './match.js';
import type { BoundServiceRecord } from '../lib/xds/waypoint-records.js';
import type { Backend, CompileExtras, HeaderEdits, RetryPolicy, RouteProblem, RouteRef, Timeouts } from './types.js';

// --- JSON readers (specs arrive as validated but untyped JSON) ---

export type Json = Record<string, unknown>;
export const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
export const objOf = (o: Json | undefined, k: string): Json | undefined => (o && isObj(o[k]) ? (o[k] as Json) : undefined);
export const listOf = (o: Json | undefined, k: string): Json[] => (o && Array.isArray(o[k]) ? (o[k] as unknown[]).filter(isObj) : []);
export const strOf = (o: Json | undefined, k: string): string | undefined => (o && typeof o[k] === 'string' ? (o[k] as string) : undefined);
export const numOf = (o: Json | undefined, k: string): number | undefined => (o && typeof o[k] === 'number' ? (o[k] as number) : undefined);
export const strsOf = (o: Json | undefined, k: string): string[] =>
  o && Array.isArray(o[k]) ? (o[k] as unknown[]).filter((s): s is string => typeof s === 'string') : [];

// --- Compiled routes ---

/** A backend share; `backend` undefined means unresolvable (its share of traffic gets a 500). */
export interface CompiledBackend {
  weight: number;
  backend?: Backend;
  unresolved?: string;
  /** Status for the unresolved share: 500 (Gateway API) or 503 (VirtualService → missing cluster, as Envoy). */
  failStatus?: number;
  requestHeaders: HeaderEdits;
  responseHeaders: HeaderEdits;
}

interface CompiledMirror {
  backend?: Backend;
  /** 0–100. */
  percent: number;
}

/** VirtualService redirect (Istio semantics differ from Gateway API: `uri` always replaces the whole path). */
export interface VsRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  scheme?: string;
  status: number;
}

export interface CompiledAction {
  backends: CompiledBackend[];
  totalWeight: number;
  requestHeaders: HeaderEdits;
  responseHeaders: HeaderEdits;
  rewriteHost?: string;
  /** Gateway API URLRewrite path. */
  rewritePath?: PathRewrite;
  /** VirtualService `rewrite.uri`: replaces the matched prefix (or whole path for exact/regex matches). */
  vsRewriteUri?: string;
  vsRegexRewrite?: { re: RegExp; replacement: string };
  redirect?: RedirectSpec;
  vsRedirect?: VsRedirect;
  direct?: { status: number; body: string; flag: 'DR' | 'NC' };
  mirrors: CompiledMirror[];
  timeouts: Timeouts;
  retry: RetryPolicy;
  fault?: { delayMs?: number; delayPercent?: number; abortStatus?: number; abortGrpc?: number; abortPercent?: number };
}

type PathKind = 'exact' | 'prefix' | 'regex' | 'vsprefix' | 'any';

export interface CompiledMatch {
  pathKind: PathKind;
  /** The path value as written (prefix: normalized for Gateway API); precedence uses its length. */
  pathValue: string;
  pathTest?: StringTest;
  method?: StringTest;
  /** `test` undefined = presence only; `absent` = VirtualService withoutHeaders. */
  headers: Array<{ name: string; test?: StringTest; absent?: boolean }>;
  query: Array<{ name: string; test?: StringTest }>;
  authority?: StringTest;
  scheme?: StringTest;
  /** Counts used by Gateway API precedence. */
  hasMethod: boolean;
}

export interface HttpEntry {
  ref: RouteRef;
  /** Service ports the entry applies to; undefined = every port. */
  ports?: Set<number>;
  /** GAMMA consumer route: applies only to callers from this namespace (the route's, not the Service's). */
  consumer?: string;
  match: CompiledMatch;
  action: CompiledAction;
  /** Sort key parts (Gateway API precedence); VirtualService entries keep their order. */
  order: { source: 0 | 1; route: string; rule: number; match: number };
}

export interface TcpEntry {
  ref: RouteRef;
  ports?: Set<number>;
  consumer?: string;
  backends: CompiledBackend[];
  totalWeight: number;
  order: { source: 0 | 1; route: string; rule: number };
}

/** Where compile steps report; one sink per compile. */
export class ProblemSink {
  readonly list: RouteProblem[] = [];
  add(kind: string, namespace: string, name: string, field: string, reason: string): void {
    this.list.push({ kind, namespace, name, field, reason });
  }
}

export const DEFAULT_RETRY_ON = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'];

/** Istio's default retry policy for every HTTP route without one: 2 retries on connect errors and 503. */
export function defaultRetry(): RetryPolicy {
  return { attempts: 2, retryOn: [...DEFAULT_RETRY_ON], codes: [503], backoffMs: 25 };
}

/** What every compile step sees: the bound services, name resolution and the problem sink. */
export interface CompileContext {
  services: BoundServiceRecord[];
  byKey: Map<string, BoundServiceRecord>;
  /** `Kind/namespace/name` → bound service records (a ServiceEntry may carry several hosts). */
  byName: Map<string, BoundServiceRecord[]>;
  /** `svc.<domain>` suffix learnt from bound Service hostnames (default `cluster.local`). */
  clusterDomain: string;
  resolveBackend?: CompileExtras['resolveBackend'];
  problems: ProblemSink;
}

/** Expands an Istio short host (`reviews`) relative to `ns`; dotted names and wildcards stay as they are. */
export function expandHost(host: string, ns: string, clusterDomain: string): string {
  if (host.startsWith('*')) return host;
  // Istio expands only dotless names (`reviews`); anything with a dot is taken as a full name.
  return host.includes('.') ? host : `${host}.${ns}.svc.${clusterDomain}`;
}

/** Whether a (possibly wildcard) host pattern covers `hostname`. */
export function hostCovers(pattern: string, hostname: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return hostname.endsWith(pattern.slice(1));
  return pattern === hostname;
}

/** Namespace of a `name.ns.svc.<domain>` hostname, or `fallback`. */
export function namespaceOfHost(hostname: string, fallback: string): string {
  const parts = hostname.split('.');
  return parts.length >= 3 && parts[2] === 'svc' ? parts[1]! : fallback;
}
