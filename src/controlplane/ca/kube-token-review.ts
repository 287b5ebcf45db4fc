// Token authentication on Kubernetes, as istiod does it: a caller presents its projected service-account token
// (audience `istio-ca`); the control plane asks the API server (TokenReview) whether it is valid for that audience.
// A trusted node account (default istio-system/ztunnel) acts for the node its token's pod runs on: the CA then issues
// only identities of pods on that node (node-authorizer.ts). Any other service account (a waypoint) is a workload
// and gets only its own identity, spiffe://<trust domain>/ns/<ns>/sa/<sa>.
//
// Refusals throw with the reason (expired, wrong audience, untrusted account, not bound to a pod); accepted tokens
// are remembered for a short while so reconnecting streams do not each cost an API call.
import { createHash } from 'node:crypto';
import type { ApiClient } from '../client/index.js';
import { describeError, MeshError } from '../../lib/errors.js';
import { formatSpiffeId } from '../../lib/certs/spiffe-id.js';
import type { CaCaller } from './node-authorizer.js';

/** The audience Istio's ztunnel asks for, and the only one accepted. */
const CA_TOKEN_AUDIENCE = 'istio-ca';
/** The extra a bound service-account token carries with its pod's node (Kubernetes 1.30+). */
const NODE_NAME_EXTRA = 'authentication.kubernetes.io/node-name';
const CACHE_MS = 30_000;
const MAX_CACHED = 1000;

class TokenRefusedError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TOKEN_REFUSED', message, options);
  }
}

/** Whether a bearer token has the shape of a JWT (a Kubernetes service-account token), not a node bootstrap token. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token);
}

interface TokenReviewStatus {
  authenticated?: boolean;
  error?: string;
  audiences?: string[];
  user?: { username?: string; extra?: Record<string, string[]> };
}

export class KubeTokenReviewer {
  readonly #api: ApiClient;
  /** `namespace/serviceaccount` entries allowed to act for their pod's node. */
  readonly #trusted: Set<string>;
  readonly #cache = new Map<string, { caller: CaCaller; until: number }>();
  readonly #trustDomain: string;

  constructor(api: ApiClient, trustDomain: string, trustedNodeAccounts: readonly string[] = ['istio-system/ztunnel']) {
    this.#api = api;
    this.#trustDomain = trustDomain;
    this.#trusted = new Set(trustedNodeAccounts);
  }

  /** Who the token stands for: a node (trusted node account) or a workload; throws with the reason when refused. */
  async authenticate(token: string): Promise<CaCaller> {
    const key = createHash('sha256').update(token).digest('hex');
    const hit = this.#cache.get(key);
    if (hit && hit.until > Date.now()) return hit.caller;
    let status: TokenReviewStatus;
    try {
      const review = (await this.#api.requestJson('POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
        apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences: [CA_TOKEN_AUDIENCE] },
      })) as { status?: TokenReviewStatus };
      status = review.status ?? {};
    } catch (err) {
      throw new TokenRefusedError(`cannot review the service-account token with the Kubernetes API server: ${describeError(err)}`, { cause: err });
    }
    if (!status.authenticated) {
      throw new TokenRefusedError(`the Kubernetes API server refused the service-account token for audience ${CA_TOKEN_AUDIENCE}: ${status.error || 'not authenticated'}`);
    }
    if (!status.audiences?.includes(CA_TOKEN_AUDIENCE)) throw new TokenRefusedError(`the service-account token is not for audience ${CA_TOKEN_AUDIENCE}`);
    const m = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(status.user?.username ?? '');
    if (!m) throw new TokenRefusedError(`${status.user?.username ?? 'the caller'} is not a service account`);
    let caller: CaCaller;
    if (this.#trusted.has(`${m[1]}/${m[2]}`)) {
      const node = status.user?.extra?.[NODE_NAME_EXTRA]?.[0];
      if (!node) throw new TokenRefusedError('the service-account token is not bound to a pod on a node (use a projected token of the ztunnel pod)');
      caller = { kind: 'node', node };
    } else {
      caller = { kind: 'workload', identity: formatSpiffeId({ trustDomain: this.#trustDomain, namespace: m[1]!, serviceAccount: m[2]! }) };
    }
    if (this.#cache.size >= MAX_CACHED) this.#cache.clear();
    this.#cache.set(key, { caller, until: Date.now() + CACHE_MS });
    return caller;
  }
}
