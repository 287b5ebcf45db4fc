// SPIFFE identities in Istio's form `spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>`: parse and format.

/** A workload identity. `trustDomain` is lower-case; namespace and service account are as written. */
export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

// SPIFFE spec: trust domain = lower-case letters, digits, '.', '-', '_'; path segments = letters, digits, '.', '-', '_'.
const TRUST_DOMAIN_RE = /^[a-z0-9._-]+$/;
const SEGMENT_RE = /^[A-Za-z0-9._-]+$/;

/** `spiffe://td/ns/ns/sa/sa`. */
export function formatSpiffeId(id: SpiffeId): string {
  return `spiffe://${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
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
  if (!uri.startsWith('spiffe://')) return `'${uri}' is not a SPIFFE id (expected spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>)`;
  const rest = uri.slice('spiffe://'.length);
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
