// SPIFFE identities in Istio's form `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`: parse and format.

/** A workload identity. `trustDomain` is lower-case; namespace and service account are as written. */
export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
/** The URI scheme prefix of every SPIFFE id. */
export const SPIFFE_SCHEME = 'spiffe://';

// SPIFFE spec: trust domain = lower-case letters, digits, '.', '-', '_'; path segments = letters, digits, '.', '-', '_'.
const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;

/** `spiffe://td/ns/ns/sa/sa`. */
export function formatSpiffeId(id: SpiffeId): string {
  return `${SPIFFE_SCHEME}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/** Whether `text` is a syntactically valid trust domain name. */
export function isValidTrustDomain(text: string): boolean {
  return text.length > 0 && text.length <= 255 && TRUST_DOMAIN_RE.test(text);
}

/**
 * Parses an Istio SPIFFE id. Returns the id, or a string saying what is wrong (for error messages that name
 * the offending value: callers prefix it with the field it came from).
 */
export function parseSpiffeId(uri: string): SpiffeId | string {
  if (!uri.startsWith(SPIFFE_SCHEME)) return `'${uri}' is not a SPIFFE id (expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)`;
  const rest = uri.slice(SPIFFE_SCHEME.length);
  if (/[?#]/.test(rest)) return `'${uri}' must not carry a query or fragment`;
  const slash = rest.indexOf('/');
  const trustDomain = slash < 0 ? rest : rest.slice(0, slash);
  if (!isValidTrustDomain(trustDomain)) return `'${uri}' has an invalid trust domain '${trustDomain}' (lower-case letters, digits, '.', '-', '_')`;
  const segments = slash < 0 ? [] : rest.slice(slash + 1).split('/');
  if (segments.length !== 4 || segments[0] !== 'ns' || segments[2] !== 'sa') {
    return `'${uri}' must have the form spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`;
  }
  const namespace = segments[1]!;
  const serviceAccount = segments[3]!;
  for (const seg of [namespace, serviceAccount]) {
    if (!SEGMENT_RE.test(seg) || seg === '.' || seg === '..') return `'${uri}' has an invalid path segment '${seg}'`;
  }
  return { trustDomain, namespace, serviceAccount };
}

/**
 * The structure of an Istio SPIFFE id without validating the characters inside its segments (exactly
 * `spiffe://<td>/ns/<ns>/sa/<sa>`), or undefined. For comparing identities a peer presented (RBAC compares
 * strings; the CA already validated what it signed); `parseSpiffeId` is the strict form for input.
 */
export function splitSpiffeId(uri: string | undefined): SpiffeId | undefined {
  if (!uri || !uri.startsWith(SPIFFE_SCHEME)) return undefined;
  const parts = uri.slice(SPIFFE_SCHEME.length).split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa' || !parts[0]) return undefined;
  return { trustDomain: parts[0], namespace: parts[2]!, serviceAccount: parts[4]! };
}
