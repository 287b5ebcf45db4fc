// Certificate manager behaviour under a fake clock: half-life refresh, jittered exponential backoff while the old
// certificate keeps serving, expiry, the concurrency limit, priorities, forget, and key-free dumps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { CertificateManager, type Clock, type CertSigner } from './certificate-manager.js';
import { x509, ECDSA_SHA256, randomSerialHex } from './x509.js';
import { generateP256KeyPair, uriSans, type CryptoKeyPair } from './proxy-x509.js';

/**
 * Timers that fire only when the test advances time; `now()` starts at a fixed instant. After each timer it waits
 * for the manager's requests to be answered (`whenIdle`), so real crypto on a loaded machine only makes it slower.
 */
class FakeClock implements Clock {
  t = Date.parse('2030-01-01T00:00:00Z');
  /** The manager under test, whose in-flight requests `advance` waits for. */
  manager: CertificateManager | undefined;
  #seq = 0;
  #timers = new Map<number, { at: number; fn: () => void }>();
  now(): number {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number): unknown {
    const h = ++this.#seq;
    this.#timers.set(h, { at: this.t + Math.max(0, ms), fn });
    return h;
  }
  clearTimeout(h: unknown): void {
    this.#timers.delete(h as number);
  }
  /** Delays (ms from now) of pending timers, ascending. */
  pending(): number[] {
    return [...this.#timers.values()].map((x) => x.at - this.t).sort((a, b) => a - b);
  }
  /** Moves time forward, firing due timers in order and letting promise chains settle after each. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, v]) => v.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
      await this.settle();
    }
    this.t = end;
    await this.settle();
  }
  /** Waits until every request the manager started has been answered and applied, then lets promise chains run. */
  async settle(): Promise<void> {
    await new Promise((r) => setImmediate(r));
    if (this.manager) await within(this.manager.whenIdle(), 20_000, 'the certificate requests in flight');
    await new Promise((r) => setImmediate(r));
  }
}

/** `p`, or a rejection naming `what` after `ms` (generous: a bound, not a pace). */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const ID = 'spiffe://cluster.local/ns/default/sa/web';
const HOUR = 3600_000;

/** A tiny CA whose certificates are valid from the fake clock's now for `ttlMs`; can be told to fail. */
async function testCa(clock: FakeClock, ttlMs = 24 * HOUR) {
  const keys: CryptoKeyPair = await generateP256KeyPair();
  const root = await x509.X509CertificateGenerator.createSelfSigned({ name: 'CN=test root', keys, signingAlgorithm: ECDSA_SHA256, extensions: [new x509.BasicConstraintsExtension(true, undefined, true)] });
  /** Emits 'call' each time the signer is entered. */
  const events = new EventEmitter();
  const state = { fail: undefined as string | undefined, calls: 0, inFlight: 0, maxInFlight: 0, hold: undefined as Promise<void> | undefined, order: [] as string[], wrongIdentity: false };
  const signer: CertSigner = async (csrPem, identity) => {
    state.calls++;
    state.order.push(identity);
    state.inFlight++;
    state.maxInFlight = Math.max(state.maxInFlight, state.inFlight);
    events.emit('call');
    try {
      if (state.hold) await state.hold;
      if (state.fail) throw new Error(state.fail);
      const csr = new x509.Pkcs10CertificateRequest(csrPem);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: randomSerialHex(),
        issuer: root.subjectName,
        publicKey: csr.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: ECDSA_SHA256,
        notBefore: new Date(clock.now()),
        notAfter: new Date(clock.now() + ttlMs),
        extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: state.wrongIdentity ? 'spiffe://cluster.local/ns/x/sa/y' : identity }], true)],
      });
      return [leaf.toString('pem'), root.toString('pem')];
    } finally {
      state.inFlight--;
    }
  };
  return { signer, state, events };
}

test('fetches on demand, refreshes at half-life, and replaces the certificate atomically', async (t) => {
  const clock = new FakeClock();
  const ca = await testCa(clock);
  const m = new CertificateManager({ signer: ca.signer, clock });
  clock.manager = m;
  t.after(() => m.close());
  const updates: string[] = [];
  m.onUpdate((id, c) => updates.push(`${id}:${c ? c.serialNumber : 'gone'}`));
  assert.equal(m.state(ID), undefined);
  const first = await m.fetch(ID);
  assert.deepEqual(uriSans(first.certChainPem[0]!), [ID]);
  assert.deepEqual(m.state(ID), { state: 'Available' });
  assert.equal(await m.fetch(ID), first, 'cached while valid');
  assert.equal(ca.state.calls, 1);
  assert.deepEqual(clock.pending(), [12 * HOUR, 24 * HOUR], 'refresh at half-life, expiry at not_after');

  await clock.advance(12 * HOUR - 1);
  assert.equal(ca.state.calls, 1, 'no refresh before half-life');
  await clock.advance(1);
  assert.equal(ca.state.calls, 2, 'refreshed at half-life');
  const second = m.get(ID)!;
  assert.notEqual(second.serialNumber, first.serialNumber);
  assert.notEqual(second.privateKeyPem(), first.privateKeyPem(), 'a fresh key per certificate');
  assert.equal(updates.length, 2);
});

test('on failure: backoff ≈1s ×2 ±20% capped at 150s, old certificate keeps serving, then expiry', async (t) => {
  const clock = new FakeClock();
  const ca = await testCa(clock, 600_000); // 10-minute certificates: refresh at 5 min, expiry at 10 min
  let r = 0.5; // jitter source: 0.5 → no jitter
  const m = new CertificateManager({ signer: ca.signer, clock, random: () => r });
  clock.manager = m;
  t.after(() => m.close());
  const cert = await m.fetch(ID);
  ca.state.fail = 'CA down';
  await clock.advance(300_000); // half-life: refresh fails
  assert.equal(ca.state.calls, 2);
  assert.deepEqual(m.state(ID), { state: 'Available' }, 'still Available with the old certificate');
  assert.equal(await m.fetch(ID), cert, 'old certificate keeps serving');
  // Retry delays: 1s, 2s, 4s, … (no jitter at r=0.5).
  const delays: number[] = [];
  for (let i = 0; i < 5; i++) {
    const next = clock.pending()[0]!;
    delays.push(next);
    await clock.advance(next);
  }
  assert.deepEqual(delays, [1000, 2000, 4000, 8000, 16_000]);
  // Jitter bounds: r=0 → −20%, r≈1 → +20%.
  r = 0;
  let next = clock.pending()[0]!;
  assert.equal(next, 32_000, 'the delay already scheduled used r=0.5');
  await clock.advance(next);
  assert.equal(clock.pending()[0], Math.round(64_000 * 0.8));
  r = 0.999999;
  await clock.advance(clock.pending()[0]!);
  next = clock.pending()[0]!;
  assert.ok(next <= 150_000, `capped at 150s, got ${next}`);
  // Retries never wait past expiry: once the remaining lifetime is shorter than the backoff, the retry is at expiry.
  const remaining = cert.notAfter.getTime() - clock.now();
  assert.ok(next <= remaining, 'retry no later than expiry');
  await clock.advance(remaining);
  assert.equal(m.get(ID), undefined, 'expired certificate is dropped');
  const st = m.state(ID)!;
  assert.equal(st.state, 'Unavailable');
  assert.match((st as { reason: string }).reason, /CA down$/, 'the reason names the last error');
  await assert.rejects(m.fetch(ID), /no certificate for spiffe:\/\/cluster\.local\/ns\/default\/sa\/web: /);
  // Recovery.
  ca.state.fail = undefined;
  await clock.advance(150_000);
  assert.deepEqual(m.state(ID), { state: 'Available' });
  assert.ok(m.get(ID));
});

test('the first fetch fails fast with the reason; state is Unavailable; a later retry recovers', async (t) => {
  const clock = new FakeClock();
  const ca = await testCa(clock);
  ca.state.fail = 'PERMISSION_DENIED: not on this node';
  const m = new CertificateManager({ signer: ca.signer, clock, random: () => 0.5 });
  clock.manager = m;
  t.after(() => m.close());
  await assert.rejects(m.fetch(ID), /PERMISSION_DENIED: not on this node/);
  assert.deepEqual(m.state(ID), { state: 'Unavailable', reason: 'PERMISSION_DENIED: not on this node' });
  await assert.rejects(m.fetch(ID), /not on this node/, 'during backoff, fetch does not hammer the CA');
  assert.equal(ca.state.calls, 1);
  ca.state.fail = undefined;
  await clock.advance(1000);
  assert.equal(ca.state.calls, 2);
  assert.ok(await m.fetch(ID));
});

test('at most 8 CSRs in flight; realtime requests go before queued prefetches', async (t) => {
  const clock = new FakeClock();
  const ca = await testCa(clock);
  let release!: () => void;
  ca.state.hold = new Promise<void>((r) => (release = r));
  const m = new CertificateManager({ signer: ca.signer, clock });
  clock.manager = m;
  t.after(() => m.close());
  const ids = Array.from({ length: 20 }, (_, i) => `spiffe://cluster.local/ns/default/sa/w${i}`);
  for (const id of ids) m.prefetch(id);
  assert.equal(m.pendingRequests(), 20, 'every prefetch is pending (8 in flight, 12 queued)');
  // Key generation is real crypto: wait for the CA to see the first requests, however long that takes.
  await within(new Promise<void>((resolve) => {
    const check = () => {
      if (ca.state.calls < 8) return;
      ca.events.off('call', check);
      resolve();
    };
    ca.events.on('call', check);
    check();
  }), 20_000, 'the CA receiving 8 CSRs');
  // The other 12 wait behind the limit (maxInFlight below shows none got past it while the 8 were held).
  assert.equal(ca.state.inFlight, 8);
  assert.equal(ca.state.calls, 8);
  assert.equal(m.pendingRequests(), 20);
  const urgent = m.fetch('spiffe://cluster.local/ns/default/sa/urgent');
  assert.equal(m.pendingRequests(), 21);
  ca.state.hold = undefined;
  release();
  await within(urgent, 20_000, 'the realtime request');
  await within(m.whenIdle(), 20_000, 'the remaining prefetches');
  assert.equal(m.pendingRequests(), 0);
  assert.equal(ca.state.calls, 21);
  assert.equal(ca.state.maxInFlight, 8);
  // The realtime request takes the first freed slot, ahead of the 12 queued prefetches (without priority it would be
  // the 21st call). Released together, the first freed slots run their key generation concurrently, so the CA may
  // see a prefetch of that same first wave of 8 before it: anywhere in calls 9–16 is the realtime request going first.
  const at = ca.state.order.indexOf('spiffe://cluster.local/ns/default/sa/urgent');
  assert.ok(at >= 8 && at < 16, `the realtime request is in the first wave after the initial 8 (CA call ${at + 1} of 21)`);
  for (const id of ids) assert.deepEqual(m.state(id), { state: 'Available' });
});

test('forget drops the certificate and timers; a wrong-identity response is refused; dumps carry no keys', async (t) => {
  const clock = new FakeClock();
  const ca = await testCa(clock);
  const m = new CertificateManager({ signer: ca.signer, clock });
  clock.manager = m;
  t.after(() => m.close());
  const cert = await m.fetch(ID);
  const dump = m.dump();
  assert.equal(dump.length, 1);
  assert.equal(dump[0]!.identity, ID);
  assert.equal(dump[0]!.state, 'Available');
  assert.equal(Buffer.from(dump[0]!.certChain[0]!.pem, 'base64').toString(), cert.certChainPem[0]);
  assert.equal(dump[0]!.rootCerts.length, 1);
  assert.match(dump[0]!.certChain[0]!.expirationTime, /^\d{4}-\d\d-\d\dT/);
  for (const text of [JSON.stringify(dump), JSON.stringify(cert), inspect(cert), inspect(m, { depth: 10 })]) {
    assert.doesNotMatch(text, /PRIVATE KEY/);
  }
  assert.match(cert.privateKeyPem(), /-----BEGIN PRIVATE KEY-----/);

  m.forget(ID);
  assert.equal(m.get(ID), undefined);
  assert.deepEqual(m.dump(), []);
  assert.deepEqual(clock.pending(), [], 'no timers left');

  ca.state.wrongIdentity = true;
  await assert.rejects(m.fetch(ID), /CA issued a certificate for spiffe:\/\/cluster\.local\/ns\/x\/sa\/y, not for the requested/);
  assert.equal(m.state(ID)!.state, 'Unavailable');
  assert.match(m.dump()[0]!.state, /^Unavailable: CA issued a certificate for/);
});
