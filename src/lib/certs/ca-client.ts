// gRPC client of the CA (IstioCertificateService/CreateCertificate over TLS): turns it into a CertSigner for the
// certificate manager. A node's ztunnel authenticates with its bootstrap token (`authorization: Bearer …`);
// a waypoint renewing its own identity presents its current mesh certificate instead.
import * as grpc from '@grpc/grpc-js';
import { CONTROL_PLANE_CHANNEL_OPTIONS } from '../control-plane-backoff.js';
import { MeshError } from '../errors.js';
import type { CertSigner } from './certificate-manager.js';
import { istioCertificateServiceDefinition, newCertificateRequest, type IstioCertificateResponse } from './ca-service.js';

/** Name the CA's serving certificate carries as a DNS SAN; clients verify it instead of the dialled address. */
export const CA_SERVER_NAME = 'ambit-controlplane';

interface CaClientOptions {
  /** `host:port` of the CA, e.g. `127.0.0.1:15012`. */
  address: string;
  /**
   * PEM root bundle that the CA's serving certificate must chain to, or a function returning the current one
   * (e.g. re-reading `<dataDir>/ca/root-cert.pem`, which changes on root rotation); the channel is rebuilt when
   * it changes.
   */
  rootCertPem: string | (() => string);
  /** Bearer token (node bootstrap token), or a function returning the current one. */
  token?: string | (() => string | Promise<string>);
  /** The caller's current mesh certificate (waypoint renewal); called per request so renewals are picked up. */
  clientCertificate?: () => { certChainPem: string; privateKeyPem: string } | undefined;
  /** Name checked against the serving certificate; default `ambit-controlplane`. */
  serverName?: string;
  /** Sent as `clusterid` metadata like Istio's proxies do; default `Kubernetes`. */
  clusterId?: string;
  /** Requested certificate lifetime in seconds; 0 = the CA's default. */
  validitySeconds?: number;
  /** Per-call deadline in ms; default 10 000. */
  timeoutMs?: number;
}

class CaRequestError extends MeshError {
  /** The gRPC status code name, e.g. `PERMISSION_DENIED`. */
  readonly grpcStatus: string;
  constructor(grpcStatus: string, message: string, options?: { cause?: unknown }) {
    super('CA_REQUEST_FAILED', message, options);
    this.grpcStatus = grpcStatus;
  }
}

interface CaClient {
  signer: CertSigner;
  close(): void;
}

const ServiceClient = grpc.makeGenericClientConstructor(istioCertificateServiceDefinition, 'IstioCertificateService');

/** Creates a CA client. The channel is rebuilt only when the roots or the client certificate change. */
export function createCaClient(opts: CaClientOptions): CaClient {
  const serverName = opts.serverName ?? CA_SERVER_NAME;
  let current: { client: grpc.Client; certKey: string } | undefined;

  function clientFor(): grpc.Client {
    const pair = opts.clientCertificate?.();
    const roots = typeof opts.rootCertPem === 'function' ? opts.rootCertPem() : opts.rootCertPem;
    const certKey = `${roots}\n${pair ? pair.certChainPem : ''}`;
    if (current && current.certKey === certKey) return current.client;
    current?.client.close();
    const creds = grpc.credentials.createSsl(
      Buffer.from(roots),
      pair ? Buffer.from(pair.privateKeyPem) : null,
      pair ? Buffer.from(pair.certChainPem) : null,
    );
    const client = new ServiceClient(opts.address, creds, {
      ...CONTROL_PLANE_CHANNEL_OPTIONS,
      'grpc.ssl_target_name_override': serverName,
      'grpc.default_authority': serverName,
    });
    current = { client, certKey };
    return client;
  }

  const signer: CertSigner = async (csrPem, identity) => {
    const md = new grpc.Metadata();
    if (opts.token !== undefined) {
      const token = typeof opts.token === 'function' ? await opts.token() : opts.token;
      md.set('authorization', `Bearer ${token}`);
    }
    md.set('clusterid', opts.clusterId ?? 'Kubernetes');
    const request = newCertificateRequest(csrPem, opts.validitySeconds ?? 0, identity);
    const client = clientFor();
    const deadline = new Date(Date.now() + (opts.timeoutMs ?? 10_000));
    const response = await new Promise<IstioCertificateResponse>((resolve, reject) => {
      (client as unknown as {
        CreateCertificate(req: unknown, md: grpc.Metadata, o: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: IstioCertificateResponse) => void): void;
      }).CreateCertificate(request, md, { deadline }, (err, res) => {
        if (err) {
          const status = grpc.status[err.code] ?? String(err.code);
          reject(new CaRequestError(status, `CA at ${opts.address} refused the certificate for ${identity}: ${status}: ${err.details || err.message}`, { cause: err }));
        } else resolve(res!);
      });
    });
    return response.certChain;
  };

  return {
    signer,
    close: () => {
      current?.client.close();
      current = undefined;
    },
  };
}
