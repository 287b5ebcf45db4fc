// Who is calling the gRPC port (15012): a node (its bootstrap token, or a Kubernetes token reviewed into one) or a
// workload (a mesh client certificate). One rule for every long-lived proxy stream served there: xDS and decisions.
import type * as grpc from '@grpc/grpc-js';
import { spiffeIdOf } from '../../lib/certs/proxy-x509.js';
import { parseSpiffeId } from '../../lib/certs/spiffe-id.js';

export type XdsCaller = { kind: 'node'; node: string } | { kind: 'workload'; identity: string };

export interface CallerAuthOptions {
  nodeTokens: { authenticate(token: string): Promise<XdsCaller | undefined> };
  trustDomain: string;
  /** Why the TLS layer did not trust the peer's certificate, by peer address (so the refusal can say). */
  untrustedCertificate?: (peer: string) => string | undefined;
}

type AuthenticatedCall = { metadata: grpc.Metadata; getPeer(): string; getAuthContext(): { sslPeerCertificate?: { raw?: Buffer } } | undefined };

/** The caller of `call`, or an Error saying why it is refused. */
export async function authenticateCaller(call: AuthenticatedCall, opts: CallerAuthOptions): Promise<XdsCaller> {
  const auth = call.metadata.get('authorization');
  if (auth.length > 0) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(String(auth[0]));
    if (auth.length > 1 || !m) throw new Error("authorization: expected exactly one 'Bearer <token>' header");
    const caller = await opts.nodeTokens.authenticate(m[1]!);
    if (!caller) throw new Error('authorization: the bearer token is not a valid node token (unknown, revoked or from another control plane)');
    return caller;
  }
  const peerCert = call.getAuthContext()?.sslPeerCertificate;
  if (peerCert?.raw) {
    const id = spiffeIdOf(peerCert.raw);
    const parsed = id ? parseSpiffeId(id) : undefined;
    if (!id || !parsed || typeof parsed === 'string' || parsed.trustDomain !== opts.trustDomain) {
      throw new Error(`client certificate carries no SPIFFE identity in trust domain '${opts.trustDomain}'`);
    }
    return { kind: 'workload', identity: id };
  }
  const untrusted = opts.untrustedCertificate?.(call.getPeer());
  if (untrusted) throw new Error(`client certificate not trusted: it does not verify against the mesh trust bundle (${untrusted})`);
  throw new Error("no credentials: send 'authorization: Bearer <node token>' or present a mesh client certificate");
}
