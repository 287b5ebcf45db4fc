// RequestAuthentication at the waypoint: find a JWT where the rules say (default `Authorization: Bearer …`, then the
// `access_token` query parameter), validate it with `jose` against its issuer's keys, and turn it into the request's
// identity (`<iss>/<sub>`, audiences, presenter, claims) for AuthorizationPolicy. Istio's semantics (ISTIO-API.md
// §4.2): no token passes with no identity (a policy with `requestPrincipals` decides); a token that fails is refused
// (401, with Envoy's reason); a token from an issuer no rule names is refused too.
//
// Choices: 60 s of clock skew (Envoy's default); with no `audiences` in a rule the audience is not checked (Envoy's
// jwt_authn behaviour); the token is removed before forwarding unless `forwardOriginalToken`; `scope`, `permission`
// and `spaceDelimitedClaims` are split on spaces. Keys come from a KeySource: inline `jwks`, or a `jwksUri` fetched
// and cached by the caller, asked again once (refresh) when a token names a key it does not have — a key rotation.
import { createLocalJWKSet, decodeJwt, errors, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import type { RequestAuth } from './l7-policy.js';

export interface JwtRuleSpec {
  issuer: string;
  audiences?: string[];
  jwksUri?: string;
  jwks?: string;
  fromHeaders?: Array<{ name: string; prefix?: string }>;
  fromParams?: string[];
  fromCookies?: string[];
  forwardOriginalToken?: boolean;
  outputPayloadToHeader?: string;
  outputClaimToHeaders?: Array<{ header: string; claim: string }>;
  timeout?: string;
  spaceDelimitedClaims?: string[];
}

export interface RequestAuthnPolicy {
  namespace: string;
  name: string;
  spec: { jwtRules?: JwtRuleSpec[] };
}

/** The keys of a rule's issuer; `refresh` asks past the cache (a token named a key not seen yet). */
export type KeySource = (rule: JwtRuleSpec, refresh: boolean) => Promise<JSONWebKeySet>;

/** The parts of a request authentication reads and edits. */
interface AuthnRequest {
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

type AuthnResult =
  | { kind: 'none' }
  /** Valid: the identity, and the header edits for the upstream request (removed, then set). */
  | { kind: 'authenticated'; auth: RequestAuth; removeHeaders: string[]; setHeaders: Record<string, string>; policy: string }
  | { kind: 'refused'; reason: string; policy?: string };

const CLOCK_SKEW_S = 60;
const ALWAYS_SPLIT = ['scope', 'permission'];

interface Location {
  header?: { name: string; prefix: string };
  param?: string;
  cookie?: string;
}

function locationsOf(rule: JwtRuleSpec): Location[] {
  const explicit = [
    ...(rule.fromHeaders ?? []).map((h) => ({ header: { name: h.name.toLowerCase(), prefix: h.prefix ?? '' } })),
    ...(rule.fromParams ?? []).map((param) => ({ param })),
    ...(rule.fromCookies ?? []).map((cookie) => ({ cookie })),
  ];
  return explicit.length ? explicit : [{ header: { name: 'authorization', prefix: 'Bearer ' } }, { param: 'access_token' }];
}

const sameLocation = (a: Location, b: Location) =>
  (a.header && b.header && a.header.name === b.header.name && a.header.prefix === b.header.prefix) || (a.param !== undefined && a.param === b.param) || (a.cookie !== undefined && a.cookie === b.cookie);

function headerValue(headers: AuthnRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function tokenAt(loc: Location, req: AuthnRequest): string | undefined {
  if (loc.header) {
    const v = headerValue(req.headers, loc.header.name);
    if (v === undefined || !v.startsWith(loc.header.prefix)) return undefined;
    return v.slice(loc.header.prefix.length).trim() || undefined;
  }
  if (loc.param !== undefined) {
    const q = req.path.indexOf('?');
    return q < 0 ? undefined : new URLSearchParams(req.path.slice(q + 1)).get(loc.param) || undefined;
  }
  const cookies = headerValue(req.headers, 'cookie') ?? '';
  for (const part of cookies.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === loc.cookie) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/** Envoy's texts for why a token was refused (what the 401's body says). */
function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'Jwt is expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return 'Audiences in Jwt are not allowed';
    if (err.claim === 'nbf') return 'Jwt not yet valid';
    if (err.claim === 'iss') return 'Jwt issuer is not configured';
    return `Jwt claim ${err.claim} is invalid`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'Jwt verification fails';
  if (err instanceof errors.JWKSNoMatchingKey) return 'Jwks doesn\'t have key to match kid or alg from Jwt';
  if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid || err instanceof errors.JOSEAlgNotAllowed || err instanceof errors.JOSENotSupported) return 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections';
  return `Jwt verification fails: ${(err as Error).message}`;
}

function claimsWithSplits(payload: JWTPayload, rule: JwtRuleSpec): Record<string, unknown> {
  const claims: Record<string, unknown> = { ...payload };
  for (const name of [...ALWAYS_SPLIT, ...(rule.spaceDelimitedClaims ?? [])]) {
    const v = claims[name];
    if (typeof v === 'string') claims[name] = v.split(' ').filter(Boolean);
  }
  return claims;
}

/** A claim by dotted path (`a.b`), as a header value: strings, numbers and booleans only. */
function claimText(payload: JWTPayload, path: string): string | undefined {
  let v: unknown = payload;
  for (const p of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[p];
  }
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined;
}

/**
 * The claim checks alone (issuer, audiences, expiry and not-before with the same skew), for `ambit x authz check`
 * when the keys are remote: Envoy's reasons, or undefined when the claims pass.
 */
function claimProblem(payload: JWTPayload, rule: JwtRuleSpec, nowMs: number): string | undefined {
  const now = nowMs / 1000;
  if (typeof payload.exp === 'number' && payload.exp + CLOCK_SKEW_S <= now) return 'Jwt is expired';
  if (typeof payload.nbf === 'number' && payload.nbf - CLOCK_SKEW_S > now) return 'Jwt not yet valid';
  const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  if (rule.audiences?.length && !aud.some((a) => rule.audiences!.includes(a))) return 'Audiences in Jwt are not allowed';
  return undefined;
}

/**
 * Authenticates one request against the RequestAuthentications that apply to it. `keys: 'claims-only'` checks
 * everything but the signature (a rule with inline keys is still verified in full).
 */
export async function authenticateRequest(policies: readonly RequestAuthnPolicy[], req: AuthnRequest, keys: KeySource | 'claims-only', nowMs = Date.now()): Promise<AuthnResult> {
  const rules = policies.flatMap((p) => (p.spec.jwtRules ?? []).map((rule) => ({ policy: `${p.namespace}/${p.name}`, rule, locations: locationsOf(rule) })));
  if (!rules.length) return { kind: 'none' };
  // The first location (in rule order) that carries a token is the token.
  let found: { token: string; at: Location } | undefined;
  for (const r of rules) {
    for (const at of r.locations) {
      const token = tokenAt(at, req);
      if (token) {
        found = { token, at };
        break;
      }
    }
    if (found) break;
  }
  if (!found) return { kind: 'none' };
  let issuer: string | undefined;
  try {
    issuer = decodeJwt(found.token).iss;
  } catch (err) {
    return { kind: 'refused', reason: reasonOf(err) };
  }
  const r = rules.find((x) => x.rule.issuer === issuer && x.locations.some((l) => sameLocation(l, found!.at)));
  if (!r) return { kind: 'refused', reason: 'Jwt issuer is not configured' };
  const keySource: KeySource | undefined = keys === 'claims-only' ? (r.rule.jwks !== undefined ? async (rule) => JSON.parse(rule.jwks!) as JSONWebKeySet : undefined) : keys;
  if (!keySource) {
    const payload = decodeJwt(found.token);
    const problem = claimProblem(payload, r.rule, nowMs);
    return problem ? { kind: 'refused', reason: problem, policy: r.policy } : authenticated(found, r, payload);
  }
  const verify = async (refresh: boolean) => jwtVerify(found!.token, createLocalJWKSet(await keySource(r.rule, refresh)), {
    issuer: r.rule.issuer,
    ...(r.rule.audiences?.length ? { audience: r.rule.audiences } : {}),
    clockTolerance: CLOCK_SKEW_S,
    currentDate: new Date(nowMs),
  });
  let payload: JWTPayload;
  try {
    try {
      ({ payload } = await verify(false));
    } catch (err) {
      // A key the cached set does not have: the issuer may have rotated its keys. Ask once more, past the cache.
      if (!(err instanceof errors.JWKSNoMatchingKey) || (!r.rule.jwksUri)) throw err;
      ({ payload } = await verify(true));
    }
  } catch (err) {
    if (err instanceof KeyFetchError) return { kind: 'refused', reason: `Jwks remote fetch is failed: ${err.message}`, policy: r.policy };
    return { kind: 'refused', reason: reasonOf(err), policy: r.policy };
  }
  return authenticated(found, r, payload);
}

/** The identity and header edits of a token that passed. */
function authenticated(found: { token: string; at: Location }, r: { policy: string; rule: JwtRuleSpec }, payload: JWTPayload): AuthnResult {
  const aud = payload.aud === undefined ? [] : Array.isArray(payload.aud) ? payload.aud : [payload.aud];
  const auth: RequestAuth = {
    principal: `${payload.iss}/${payload.sub ?? ''}`,
    audiences: aud,
    ...(typeof payload['azp'] === 'string' ? { presenter: payload['azp'] } : {}),
    claims: claimsWithSplits(payload, r.rule),
  };
  // Headers the upstream trusts as the token's word are removed first, so a caller cannot supply them.
  const removeHeaders = !r.rule.forwardOriginalToken && found.at.header ? [found.at.header.name] : [];
  const setHeaders: Record<string, string> = {};
  if (r.rule.outputPayloadToHeader) setHeaders[r.rule.outputPayloadToHeader.toLowerCase()] = found.token.split('.')[1] ?? '';
  for (const o of r.rule.outputClaimToHeaders ?? []) {
    removeHeaders.push(o.header.toLowerCase());
    const v = claimText(payload, o.claim);
    if (v !== undefined) setHeaders[o.header.toLowerCase()] = v;
  }
  return { kind: 'authenticated', auth, removeHeaders, setHeaders, policy: r.policy };
}

/** A KeySource could not get an issuer's keys (unreachable, too slow, too large, not a JWKS). */
export class KeyFetchError extends Error {}
