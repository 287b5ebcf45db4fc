// The CA's Prometheus metrics under Istio's names (so istiod dashboards keep working), registered on the
// control plane's registry. Timestamps are seconds since the epoch.
import { Counter, Gauge, type Registry } from 'prom-client';

interface CaMetrics {
  /** Every CreateCertificate call. */
  csr: Counter;
  /** Calls that returned a certificate. */
  issued: Counter;
  /** Calls refused as UNAUTHENTICATED (no, malformed, forged or revoked credential). */
  authenticationFailures: Counter;
  /** Authenticated calls that got no certificate; `error` = INVALID_ARGUMENT | PERMISSION_DENIED | INTERNAL. */
  signErrors: Counter<'error'>;
}

/** Registers the metrics; the expiry gauges read the current values at scrape time. */
export function registerCaMetrics(registry: Registry, expiries: { root(): number; chain(): number }): CaMetrics {
  const csr = new Counter({ name: 'citadel_server_csr_count', help: 'The number of CSRs received by the CA server.', registers: [registry] });
  const issued = new Counter({ name: 'citadel_server_success_cert_issuance_count', help: 'The number of certificates issued by the CA server.', registers: [registry] });
  const authenticationFailures = new Counter({ name: 'citadel_server_authentication_failure_count', help: 'The number of CSR requests that failed authentication.', registers: [registry] });
  const signErrors = new Counter({ name: 'citadel_server_csr_sign_error_count', help: 'The number of authenticated CSRs that were refused or could not be signed, by gRPC status.', labelNames: ['error'], registers: [registry] });
  new Gauge({
    name: 'citadel_server_root_cert_expiry_timestamp',
    help: 'The unix timestamp, in seconds, when the CA root certificate expires.',
    registers: [registry],
    collect() {
      this.set(Math.floor(expiries.root() / 1000));
    },
  });
  new Gauge({
    name: 'citadel_server_cert_chain_expiry_timestamp',
    help: 'The unix timestamp, in seconds, when the certificate that signs leaves expires.',
    registers: [registry],
    collect() {
      this.set(Math.floor(expiries.chain() / 1000));
    },
  });
  return { csr, issued, authenticationFailures, signErrors };
}
