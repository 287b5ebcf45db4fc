// TLS helpers for mesh mTLS: the peer's SPIFFE identity and the "peer URI SAN ∈ expected set" rule (PROTOCOLS.md §2.6).
import { constants as cryptoConstants } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { spiffeIdOf } from './proxy-x509.js';
import { parseSpiffeId } from './spiffe-id.js';

/**
 * `secureOptions` of every mTLS listener (15008, 15012): no session resumption. A resumed TLS 1.3 session skips
 * the client-certificate check, so a certificate that expired (or whose root was retired) would keep working
 * until the ticket lapses. With SSL_OP_NO_TICKET OpenSSL issues only stateful tickets, which resume solely
 * through a server session cache — and Node keeps none unless a 'resumeSession' listener supplies it (we add
 * none): every handshake is a full one.
 */
export const NO_RESUMPTION_SECURE_OPTIONS = cryptoConstants.SSL_OP_NO_TICKET;

/** The first `spiffe://` URI SAN of the peer's leaf certificate, or undefined (no cert, or no SPIFFE SAN). */
export function peerSpiffeId(socket: TLSSocket): string | undefined {
  const peer = socket.getPeerCertificate();
  if (!peer || !peer.raw) return undefined;
  return spiffeIdOf(peer.raw);
}

/**
 * Why the peer of an authorised TLS socket is not acceptable, or undefined when it is: the chain must have
 * verified, and the peer identity must be one of `expected` (exact string compare) or, when `expected` is a
 * trust domain (`{ trustDomain }`), any identity in that trust domain.
 */
export function peerIdentityProblem(socket: TLSSocket, expected: ReadonlySet<string> | { trustDomain: string }): string | undefined {
  if (!socket.authorized) return `peer certificate not verified: ${String(socket.authorizationError ?? 'no certificate')}`;
  const id = peerSpiffeId(socket);
  if (!id) return 'peer certificate has no SPIFFE URI SAN';
  if (expected instanceof Set) return expected.has(id) ? undefined : `peer identity ${id} is not one of ${[...expected].join(', ')}`;
  const parsed = parseSpiffeId(id);
  if (typeof parsed === 'string') return `peer identity ${parsed}`;
  const td = (expected as { trustDomain: string }).trustDomain;
  return parsed.trustDomain === td ? undefined : `peer identity ${id} is not in trust domain ${td}`;
}
