// Why a peer's mTLS handshake failed, as a short metric label and a log message (listeners on 15008 and 15012).
import type { TLSSocket } from 'node:tls';

/** Label values of the handshake-failures metric. */
export type HandshakeFailureReason =
  | 'unknown_ca' | 'certificate_expired' | 'bad_certificate' | 'certificate_required' | 'identity'
  | 'timeout' | 'connection_closed' | 'protocol';

/** OpenSSL verify results meaning "the chain does not lead to a root we trust". */
const UNKNOWN_CA_CODES = new Set([
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'CERT_UNTRUSTED', 'CERT_SIGNATURE_FAILURE',
]);

/**
 * Classifies a server-side handshake failure. Node verifies the client certificate after OpenSSL's handshake
 * and, when it is rejected, closes the socket with a generic "socket hang up": the real cause is the verify
 * result it left in `socket.authorizationError`, so that is read first.
 */
export function classifyHandshakeFailure(err: Error & { code?: string }, socket: TLSSocket): { reason: HandshakeFailureReason; detail: string } {
  const verify = socket.authorizationError ? String(socket.authorizationError) : undefined;
  if (verify) {
    if (UNKNOWN_CA_CODES.has(verify)) return { reason: 'unknown_ca', detail: `client certificate does not chain to a trusted mesh root (${verify})` };
    if (verify === 'CERT_HAS_EXPIRED' || verify === 'CERT_NOT_YET_VALID') return { reason: 'certificate_expired', detail: `client certificate is outside its validity period (${verify})` };
    return { reason: 'bad_certificate', detail: `client certificate rejected (${verify})` };
  }
  switch (err.code) {
    case 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE':
      return { reason: 'certificate_required', detail: 'the client presented no certificate' };
    case 'ERR_TLS_HANDSHAKE_TIMEOUT':
      return { reason: 'timeout', detail: 'no complete handshake within the deadline' };
    case 'ECONNRESET':
      return { reason: 'connection_closed', detail: 'the client closed the connection during the handshake' };
    default:
      return { reason: 'protocol', detail: `TLS error: ${(err as { reason?: string }).reason ?? err.message.split('\n')[0]}` };
  }
}
