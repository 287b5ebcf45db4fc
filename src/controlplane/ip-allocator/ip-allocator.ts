// VIP auto-allocation for ServiceEntries (Istio's "DNS auto-allocation"): every host of a ServiceEntry that gives no
// `addresses` gets a stable IPv4 from 240.240.0.0/16, written to the entry's `status.addresses` as
// `{value, host}` — the ambient index serves it as the host's VIP, so ztunnel's DNS proxy answers the name with it
// and TCP to it is attributed to that entry (not to whatever IP the name resolves to outside).
//
// Which entries: no `spec.addresses`, `resolution` other than NONE (a passthrough entry must keep the address the
// client dialled), not opted out with the label networking.istio.io/enable-autoallocate-ip=false; wildcard hosts
// get none (a VIP cannot stand for many names). Entries whose endpoints are names (`resolution: DNS` without
// endpoints, or with hostname endpoints) get one too, as in Istio: ztunnel resolves the name when a connection to
// the VIP arrives (src/ztunnel/proxy/hostname-resolver.ts). IPv4 only: an IPv6 VIP on an IPv4-only cluster gives clients
// "network is unreachable" (a known Istio surprise), and the sandbox is IPv4.
//
// Stability: an address, once in status, stays with its host for the entry's lifetime (also across control-plane
// restarts: status is stored). A new host's first choice is derived from a hash of namespace/name/host, probing
// upwards on collision; if two entries ever hold the same address (restored from a backup, say), the older one
// (creationTimestamp, then namespace/name) keeps it and the other is given a new one.
import { createHash } from 'node:crypto';
import type { KubeObject } from '../../api/meta.js';
import { describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { AUTOALLOCATE_IPV4_RANGE, AUTOALLOCATE_IP_LABEL } from '../../lib/mesh-contract.js';
import { ReconcileLoop } from '../../lib/reconcile-loop.js';
import type { Store, Watch } from '../store/store.js';

const SERVICE_ENTRY = { group: 'networking.istio.io', kind: 'ServiceEntry' };
type Json = Record<string, unknown>;
const rec = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});

/** One allocated address as Istio writes it in `status.addresses`. */
export interface AllocatedAddress {
  value: string;
  host: string;
}

const BASE = AUTOALLOCATE_IPV4_RANGE.base.split('.').reduce((n, o) => n * 256 + Number(o), 0);
/** Usable offsets 1 … size-2: the range's first and last addresses are skipped, as a subnet's would be. */
const SIZE = 2 ** (32 - AUTOALLOCATE_IPV4_RANGE.length);

function ipOf(offset: number): string {
  const n = BASE + offset;
  return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
}

function offsetOf(ip: string): number | undefined {
  const parts = ip.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) return undefined;
  const off = parts.reduce((n, o) => n * 256 + o, 0) - BASE;
  return off >= 1 && off <= SIZE - 2 ? off : undefined;
}

/** The hosts of `se` that should carry an allocated VIP (empty when the entry is not eligible). */
export function autoAllocatedHosts(se: KubeObject): string[] {
  const spec = rec(se.spec);
  if (se.metadata.labels?.[AUTOALLOCATE_IP_LABEL] === 'false') return [];
  if (Array.isArray(spec['addresses']) && spec['addresses'].length > 0) return [];
  const resolution = spec['resolution'] ?? 'NONE';
  if (resolution === 'NONE') return [];
  const hosts = Array.isArray(spec['hosts']) ? spec['hosts'].filter((h): h is string => typeof h === 'string') : [];
  return hosts.filter((h) => !h.startsWith('*'));
}

/** What `status.addresses` of `se` holds (well-formed entries inside the range only). */
export function allocatedAddresses(se: KubeObject): AllocatedAddress[] {
  const list = rec(se.status)['addresses'];
  if (!Array.isArray(list)) return [];
  return list.flatMap((a) => {
    const { value, host } = rec(a);
    return typeof value === 'string' && typeof host === 'string' && offsetOf(value) !== undefined ? [{ value, host }] : [];
  });
}

const keyOf = (se: KubeObject) => `${se.metadata.namespace ?? 'default'}/${se.metadata.name}`;

/** Older first: creationTimestamp, then namespace/name (the tie-breaker Gateway API also uses). */
function olderFirst(a: KubeObject, b: KubeObject): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  return ta < tb ? -1 : ta > tb ? 1 : keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0;
}

/**
 * The `status.addresses` every ServiceEntry should have: keeps each valid, unique existing allocation for a host the
 * entry still has, allocates the rest. Returns only the entries whose addresses change, with their new list.
 */
export function planAllocations(entries: readonly KubeObject[]): Map<KubeObject, AllocatedAddress[]> {
  const sorted = [...entries].sort(olderFirst).map((se) => ({ se, hosts: autoAllocatedHosts(se), before: allocatedAddresses(se) }));
  const taken = new Set<number>();
  // Pass 1: keep what is already allocated (the oldest holder wins a duplicate).
  const kept = sorted.map(({ hosts, before }) => {
    const byHost = new Map<string, string>();
    for (const a of before) {
      const off = offsetOf(a.value)!;
      if (!hosts.includes(a.host) || taken.has(off) || byHost.has(a.host)) continue;
      taken.add(off);
      byHost.set(a.host, a.value);
    }
    return byHost;
  });
  // Pass 2: new hosts, in the same order, each from its hashed first choice upwards.
  const changed = new Map<KubeObject, AllocatedAddress[]>();
  sorted.forEach(({ se, hosts, before }, i) => {
    const list = hosts.map((host): AllocatedAddress => ({ value: kept[i]!.get(host) ?? allocate(`${keyOf(se)}/${host}`, taken), host }));
    const raw = rec(se.status)['addresses'];
    const same = (Array.isArray(raw) ? raw.length : 0) === list.length && before.length === list.length
      && before.every((a, j) => a.value === list[j]!.value && a.host === list[j]!.host);
    if (!same) changed.set(se, list);
  });
  return changed;
}

/** A free address for `key`: its hashed first choice, else the next free one above (wrapping). */
function allocate(key: string, taken: Set<number>): string {
  let off = 1 + (createHash('sha256').update(key).digest().readUInt32BE(0) % (SIZE - 2));
  for (let probes = 0; taken.has(off); probes++) {
    if (probes >= SIZE) throw new Error(`the auto-allocation range ${AUTOALLOCATE_IPV4_RANGE.base}/${AUTOALLOCATE_IPV4_RANGE.length} is exhausted`);
    off = off === SIZE - 2 ? 1 : off + 1;
  }
  taken.add(off);
  return ipOf(off);
}

interface IpAllocatorOptions {
  store: Store;
  log: Logger;
}

/** Level-triggered over ServiceEntries: writes the planned `status.addresses`. */
export class ServiceEntryIpAllocator {
  readonly #o: IpAllocatorOptions;
  readonly #loop: ReconcileLoop;
  #watch: Watch | undefined;

  constructor(opts: IpAllocatorOptions) {
    this.#o = opts;
    this.#loop = new ReconcileLoop(() => this.#pass(), (err) => opts.log.warn({ error: describeError(err) }, 'ServiceEntry address allocation failed'));
  }

  start(): void {
    this.#watch = this.#o.store.watch(SERVICE_ENTRY, () => this.#loop.request(), undefined, { onClose: () => this.#loop.request() });
    this.#loop.request();
  }

  /** Resolves once no pass is running (tests). */
  idle(): Promise<void> {
    return this.#loop.idle();
  }

  async stop(): Promise<void> {
    this.#watch?.close();
    await this.#loop.stop();
  }

  async #pass(): Promise<void> {
    const { store, log } = this.#o;
    const changed = planAllocations(store.list(SERVICE_ENTRY).items);
    for (const [se, addresses] of changed) {
      const status = { ...rec(se.status) };
      if (addresses.length) status['addresses'] = addresses;
      else delete status['addresses'];
      await store.updateStatus({ ...se, status } as KubeObject).then(
        () => log.info({ serviceEntry: keyOf(se), addresses: addresses.map((a) => `${a.host}=${a.value}`) }, 'ServiceEntry addresses allocated'),
        (err: unknown) => log.warn({ serviceEntry: keyOf(se), error: describeError(err) }, 'cannot write ServiceEntry status.addresses'),
      );
    }
  }
}
