// The certificate manager used by ztunnel and waypoints: one current workload certificate per SPIFFE identity,
// fetched on demand or prefetched, refreshed at half-life, retried with jittered exponential backoff.
//
// Invariants (PROTOCOLS.md §7):
// - at most one certificate per identity; a refresh replaces it atomically (readers never see a half-built one);
// - while a refresh fails, the still-valid certificate keeps being served; a retry is scheduled no later than
//   its expiry, and at expiry the certificate is dropped (state Unavailable);
// - at most `maxConcurrentRequests` (default 8) CSRs are in flight; on-demand ("realtime") requests jump ahead
//   of prefetch/refresh ("warmup") ones;
// - private keys exist only inside WorkloadCertificate objects of this process: they are never serialised by
//   toJSON/util.inspect, never logged and never part of dump().
import { inspect } from 'node:util';
import type { Logger } from 'pino';
import { MeshError, describeError } from '../errors.js';
import { X509Certificate } from 'node:crypto';
import {
  certificateFacts,
  certificatePublicKeySpki,
  createWorkloadCsr,
  generateP256KeyPair,
  privateKeyToPem,
  publicKeySpki,
  splitCertificates,
  uriSans,
  type CertificateFacts,
} from './proxy-x509.js';

/** Sends a CSR for `identity` to a CA; resolves with the response's cert_chain (leaf, intermediates…, root bundle). */
export type CertSigner = (csrPem: string, identity: string) => Promise<string[]>;

/** Wall clock and timers, injectable so tests can move time. `now()` is milliseconds since the epoch. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => {
    // Node caps timers at 2^31-1 ms; refresh delays of long-lived certificates can exceed that.
    const t = setTimeout(fn, Math.min(Math.max(0, ms), 2 ** 31 - 1));
    t.unref();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

class CertificateError extends MeshError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('CERT_UNAVAILABLE', message, options);
  }
}

/** One issued certificate with its private key. The key is reachable only through `privateKeyPem()`. */
export class WorkloadCertificate {
  readonly identity: string;
  /** PEM of the leaf, then intermediates: what a TLS endpoint presents. */
  readonly certChainPem: readonly string[];
  /** PEM of each trusted root from the CA response (the trust bundle used to verify peers). */
  readonly rootsPem: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serialNumber: string;
  readonly #privateKeyPem: string;

  constructor(identity: string, certChainPem: string[], rootsPem: string[], privateKeyPem: string) {
    const leaf = certificateFacts(certChainPem[0]!);
    this.identity = identity;
    this.certChainPem = Object.freeze([...certChainPem]);
    this.rootsPem = Object.freeze([...rootsPem]);
    this.notBefore = new Date(leaf.validFrom);
    this.notAfter = new Date(leaf.expirationTime);
    this.serialNumber = leaf.serialNumber;
    this.#privateKeyPem = privateKeyPem;
  }

  /** PKCS#8 PEM of the private key, for building a TLS context in this process only. */
  privateKeyPem(): string {
    return this.#privateKeyPem;
  }

  /** `key`/`cert`/`ca` for tls.createSecureContext: present leaf + intermediates, trust the bundle. */
  tlsOptions(): { key: string; cert: string; ca: string[] } {
    return { key: this.#privateKeyPem, cert: this.certChainPem.join(''), ca: [...this.rootsPem] };
  }

  /** Half-life instant (ms since epoch): not_before + (not_after − not_before)/2. */
  refreshAt(): number {
    const nb = this.notBefore.getTime();
    return nb + (this.notAfter.getTime() - nb) / 2;
  }

  toJSON(): object {
    return { identity: this.identity, serialNumber: this.serialNumber, notBefore: this.notBefore.toISOString(), notAfter: this.notAfter.toISOString() };
  }

  [inspect.custom](): string {
    return `WorkloadCertificate(${this.identity}, serial ${this.serialNumber}, until ${this.notAfter.toISOString()})`;
  }
}

type CertificateState = { state: 'Initializing' } | { state: 'Available' } | { state: 'Unavailable'; reason: string };

/** One certificate in a config dump: `pem` is base64 of the PEM text (PROTOCOLS.md §9.3). */
interface DumpedCertificate extends CertificateFacts {
  pem: string;
}

export interface CertificateDump {
  identity: string;
  /** `Initializing`, `Available` or `Unavailable: <reason>`. */
  state: string;
  certChain: DumpedCertificate[];
  rootCerts: DumpedCertificate[];
}

interface BackoffPolicy {
  /** First retry delay, ms. */
  initialMs: number;
  multiplier: number;
  /** Relative jitter: 0.2 means ±20%. */
  jitter: number;
  /** Upper bound of any retry delay, ms. */
  maxMs: number;
}

const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, multiplier: 2, jitter: 0.2, maxMs: 150_000 };

interface CertificateManagerOptions {
  signer: CertSigner;
  clock?: Clock;
  /** Concurrent CSRs in flight; default 8. */
  maxConcurrentRequests?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Uniform [0,1) source for jitter; default Math.random. */
  random?: () => number;
  log?: Logger;
}

type Priority = 'realtime' | 'warmup';

interface Waiter {
  resolve(cert: WorkloadCertificate): void;
  reject(err: Error): void;
}

interface Entry {
  identity: string;
  cert: WorkloadCertificate | undefined;
  state: CertificateState;
  priority: Priority;
  queued: Priority | undefined;
  inFlight: boolean;
  failures: number;
  lastError: string | undefined;
  /** Pending refresh or retry. */
  timer: unknown;
  expiryTimer: unknown;
  waiters: Waiter[];
}

type CertificateListener = (identity: string, cert: WorkloadCertificate | undefined) => void;

export class CertificateManager {
  readonly #signer: CertSigner;
  readonly #clock: Clock;
  readonly #max: number;
  readonly #backoff: BackoffPolicy;
  readonly #random: () => number;
  readonly #log: Logger | undefined;
  readonly #entries = new Map<string, Entry>();
  readonly #queues: Record<Priority, Entry[]> = { realtime: [], warmup: [] };
  readonly #listeners = new Set<CertificateListener>();
  /** Resolved (and cleared) whenever no request is in flight or queued any more. */
  #idleWaiters: Array<() => void> = [];
  #active = 0;
  #closed = false;

  constructor(opts: CertificateManagerOptions) {
    this.#signer = opts.signer;
    this.#clock = opts.clock ?? systemClock;
    this.#max = Math.max(1, opts.maxConcurrentRequests ?? 8);
    this.#backoff = { ...DEFAULT_BACKOFF, ...opts.backoff };
    this.#random = opts.random ?? Math.random;
    this.#log = opts.log;
  }

  /**
   * The current certificate of `identity`, fetching it first if needed ("realtime" priority). Rejects with a
   * CertificateError when the identity has no valid certificate and its last attempt failed (retries continue
   * in the background with backoff).
   */
  fetch(identity: string): Promise<WorkloadCertificate> {
    if (this.#closed) return Promise.reject(new CertificateError('certificate manager is closed'));
    const entry = this.#entry(identity, 'realtime');
    if (entry.cert && this.#valid(entry.cert)) return Promise.resolve(entry.cert);
    if (entry.state.state === 'Unavailable' && !entry.inFlight && !entry.queued) {
      return Promise.reject(new CertificateError(`no certificate for ${identity}: ${entry.state.reason}`));
    }
    return new Promise((resolve, reject) => {
      entry.waiters.push({ resolve, reject });
      this.#enqueue(entry, 'realtime');
    });
  }

  /** Starts fetching `identity` in the background ("warmup" priority) unless it is already known. */
  prefetch(identity: string): void {
    if (this.#closed) return;
    const known = this.#entries.has(identity);
    const entry = this.#entry(identity, 'warmup');
    if (!known) this.#enqueue(entry, 'warmup');
  }

  /** Drops an identity that is no longer needed: its certificate, timers and any pending request. */
  forget(identity: string): void {
    const entry = this.#entries.get(identity);
    if (!entry) return;
    this.#entries.delete(identity);
    this.#clearTimers(entry);
    if (entry.queued) this.#dequeue(entry);
    const err = new CertificateError(`identity ${identity} was forgotten`);
    for (const w of entry.waiters.splice(0)) w.reject(err);
    if (entry.cert) this.#emit(identity, undefined);
  }

  /** The current valid certificate of `identity`, without fetching. */
  get(identity: string): WorkloadCertificate | undefined {
    const cert = this.#entries.get(identity)?.cert;
    return cert && this.#valid(cert) ? cert : undefined;
  }

  state(identity: string): CertificateState | undefined {
    return this.#entries.get(identity)?.state;
  }

  identities(): string[] {
    return [...this.#entries.keys()].sort();
  }

  /** Called after every replacement (new certificate) and removal (forget/expiry) of a certificate. */
  onUpdate(listener: CertificateListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The `certificates` section of a config dump. Never contains private keys. */
  dump(): CertificateDump[] {
    return this.identities().map((identity) => {
      const e = this.#entries.get(identity)!;
      const state = e.state.state === 'Unavailable' ? `Unavailable: ${e.state.reason}` : e.state.state;
      const describe = (pem: string): DumpedCertificate => ({ pem: Buffer.from(pem).toString('base64'), ...certificateFacts(pem) });
      return {
        identity,
        state,
        certChain: e.cert ? e.cert.certChainPem.map(describe) : [],
        rootCerts: e.cert ? e.cert.rootsPem.map(describe) : [],
      };
    });
  }

  /**
   * CSRs in flight plus those queued behind the concurrency limit. Lets tests and diagnostics see outstanding work
   * instead of guessing how long key generation and signing take.
   */
  pendingRequests(): number {
    return this.#active + this.#queues.realtime.length + this.#queues.warmup.length;
  }

  /**
   * Resolves once `pendingRequests()` is 0: every request started so far has been answered and its result applied
   * (certificate installed, or failure recorded with its retry scheduled). Immediately when nothing is pending.
   */
  whenIdle(): Promise<void> {
    if (this.pendingRequests() === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops every timer and rejects pending fetches; later calls fail. */
  close(): void {
    this.#closed = true;
    for (const identity of [...this.#entries.keys()]) this.forget(identity);
    this.#listeners.clear();
  }

  // --- internals ---

  #entry(identity: string, priority: Priority): Entry {
    let e = this.#entries.get(identity);
    if (!e) {
      e = { identity, cert: undefined, state: { state: 'Initializing' }, priority, queued: undefined, inFlight: false, failures: 0, lastError: undefined, timer: undefined, expiryTimer: undefined, waiters: [] };
      this.#entries.set(identity, e);
    } else if (priority === 'realtime') {
      e.priority = 'realtime';
    }
    return e;
  }

  #valid(cert: WorkloadCertificate): boolean {
    return this.#clock.now() < cert.notAfter.getTime();
  }

  #enqueue(entry: Entry, priority: Priority): void {
    if (entry.inFlight) return; // its result will serve the waiters
    if (entry.queued === 'realtime' || entry.queued === priority) return;
    if (entry.queued) this.#dequeue(entry); // upgrade warmup → realtime
    if (entry.timer !== undefined) {
      this.#clock.clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    entry.queued = priority;
    this.#queues[priority].push(entry);
    this.#pump();
  }

  #dequeue(entry: Entry): void {
    const q = this.#queues[entry.queued!];
    const i = q.indexOf(entry);
    if (i >= 0) q.splice(i, 1);
    entry.queued = undefined;
  }

  #pump(): void {
    while (this.#active < this.#max) {
      const next = this.#queues.realtime.shift() ?? this.#queues.warmup.shift();
      if (!next) return;
      next.queued = undefined;
      void this.#run(next);
    }
  }

  async #run(entry: Entry): Promise<void> {
    this.#active++;
    entry.inFlight = true;
    try {
      const cert = await this.#issue(entry.identity);
      if (this.#entries.get(entry.identity) !== entry) return; // forgotten meanwhile
      this.#install(entry, cert);
    } catch (err) {
      if (this.#entries.get(entry.identity) !== entry) return;
      this.#failed(entry, err);
    } finally {
      entry.inFlight = false;
      this.#active--;
      this.#pump();
      if (this.pendingRequests() === 0) for (const resolve of this.#idleWaiters.splice(0)) resolve();
    }
  }

  /** Fresh key, CSR, signature, then checks that the response really is a certificate for that key and identity. */
  async #issue(identity: string): Promise<WorkloadCertificate> {
    const keys = await generateP256KeyPair();
    const csr = await createWorkloadCsr(identity, keys);
    const chain = await this.#signer(csr, identity);
    if (!Array.isArray(chain) || chain.length < 2) throw new CertificateError(`CA response for ${identity} has ${Array.isArray(chain) ? chain.length : 0} cert_chain element(s); expected the leaf and the root bundle`);
    const certs = chain.slice(0, -1).flatMap((pem) => splitCertificates(pem));
    const roots = splitCertificates(chain[chain.length - 1]!);
    if (certs.length === 0) throw new CertificateError(`CA response for ${identity} has no leaf certificate`);
    if (roots.length === 0) throw new CertificateError(`CA response for ${identity} has no root certificate in its last element`);
    const leaf = new X509Certificate(certs[0]!);
    const sans = uriSans(leaf);
    if (!sans.includes(identity)) throw new CertificateError(`CA issued a certificate for ${sans.join(', ') || '<no URI SAN>'}, not for the requested ${identity}`);
    const ours = await publicKeySpki(keys.publicKey);
    if (!certificatePublicKeySpki(leaf).equals(ours)) throw new CertificateError(`CA issued a certificate for ${identity} with a different public key than the CSR's`);
    if (new Date(leaf.validTo).getTime() <= this.#clock.now()) throw new CertificateError(`CA issued an already expired certificate for ${identity}`);
    return new WorkloadCertificate(identity, certs, roots, await privateKeyToPem(keys.privateKey));
  }

  #install(entry: Entry, cert: WorkloadCertificate): void {
    this.#clearTimers(entry);
    entry.cert = cert;
    entry.state = { state: 'Available' };
    entry.failures = 0;
    entry.lastError = undefined;
    const now = this.#clock.now();
    entry.expiryTimer = this.#clock.setTimeout(() => this.#expire(entry, cert), cert.notAfter.getTime() - now);
    entry.timer = this.#clock.setTimeout(() => {
      entry.timer = undefined;
      this.#enqueue(entry, 'warmup');
    }, Math.max(0, cert.refreshAt() - now));
    this.#log?.debug({ identity: entry.identity, serial: cert.serialNumber, notAfter: cert.notAfter.toISOString() }, 'certificate installed');
    for (const w of entry.waiters.splice(0)) w.resolve(cert);
    this.#emit(entry.identity, cert);
  }

  #failed(entry: Entry, err: unknown): void {
    entry.failures++;
    entry.lastError = describeError(err);
    const hasValid = entry.cert !== undefined && this.#valid(entry.cert);
    if (!hasValid) entry.state = { state: 'Unavailable', reason: entry.lastError };
    const b = this.#backoff;
    const base = Math.min(b.maxMs, b.initialMs * b.multiplier ** (entry.failures - 1));
    let delay = Math.min(b.maxMs, base * (1 + b.jitter * (2 * this.#random() - 1)));
    if (hasValid) delay = Math.min(delay, entry.cert!.notAfter.getTime() - this.#clock.now());
    delay = Math.max(0, Math.round(delay));
    this.#log?.warn({ identity: entry.identity, attempt: entry.failures, retryInMs: delay, err: entry.lastError }, 'certificate request failed');
    const error = new CertificateError(`no certificate for ${entry.identity}: ${entry.lastError}`, { cause: err });
    if (hasValid) {
      for (const w of entry.waiters.splice(0)) w.resolve(entry.cert!);
    } else {
      for (const w of entry.waiters.splice(0)) w.reject(error);
    }
    if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
    entry.timer = this.#clock.setTimeout(() => {
      entry.timer = undefined;
      this.#enqueue(entry, entry.priority);
    }, delay);
  }

  #expire(entry: Entry, cert: WorkloadCertificate): void {
    entry.expiryTimer = undefined;
    if (entry.cert !== cert || this.#entries.get(entry.identity) !== entry) return;
    entry.cert = undefined;
    entry.state = { state: 'Unavailable', reason: `certificate expired at ${cert.notAfter.toISOString()}${entry.lastError ? `; last error: ${entry.lastError}` : ''}` };
    this.#log?.warn({ identity: entry.identity }, 'certificate expired before it could be refreshed');
    this.#emit(entry.identity, undefined);
    // Make sure something is trying: normally a retry is already scheduled at or before expiry.
    if (entry.timer === undefined && !entry.inFlight && !entry.queued) this.#enqueue(entry, entry.priority);
  }

  #clearTimers(entry: Entry): void {
    if (entry.timer !== undefined) this.#clock.clearTimeout(entry.timer);
    if (entry.expiryTimer !== undefined) this.#clock.clearTimeout(entry.expiryTimer);
    entry.timer = undefined;
    entry.expiryTimer = undefined;
  }

  #emit(identity: string, cert: WorkloadCertificate | undefined): void {
    for (const l of this.#listeners) {
      try {
        l(identity, cert);
      } catch (err) {
        this.#log?.error({ identity, err: describeError(err) }, 'certificate listener failed');
      }
    }
  }
}
