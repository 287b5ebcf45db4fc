// The DNS proxy's local answers (PROTOCOLS.md §10): A/AAAA questions for mesh service hostnames are answered from
// ztunnel's xDS state as the requesting pod sees them; everything else is left to the upstream forwarder.
//
// The asked name is expanded from the client's namespace the way Kubernetes search paths do (`svc` →
// `svc.<ns>.svc.<domain>`, `svc.ns` → `svc.ns.svc.<domain>`, `svc.ns.svc` → `svc.ns.svc.<domain>`), and the
// search domains a pod's resolver appends (`<ns>.svc.<domain>`, `svc.<domain>`, `<domain>`) are also stripped
// off and the rest expanded again; each alias is tried exactly and against wildcard hostnames (`*.example.com`).
// A match through a stripped search domain is answered with a CNAME from the asked name to the service hostname,
// so the client stops walking its search list. Pure: no sockets, the random source is injectable.
import { serviceKey, type Service } from '../state/types.js';
import type { ProxyState } from '../state/proxy-state.js';
import { RecordClass, RecordType, type DnsQuestion, type DnsRecord } from '../../lib/dns/dns-message.js';

/** TTL of every locally answered record, seconds (Istio's ztunnel uses 30 s). */
const LOCAL_ANSWER_TTL_SECONDS = 30;

/** Who is asking: the pod the DNS listener belongs to. */
export interface DnsClientView {
  namespace: string;
  /** The pod's network ("" = the default network); VIPs on other networks are not returned. */
  network: string;
}

interface LocalResolverOptions {
  /** Kubernetes cluster domain, e.g. `cluster.local`. */
  clusterDomain: string;
  /** Whether AAAA questions may be answered with IPv6 addresses (otherwise: known name, no records). */
  ipv6: boolean;
  /** Uniform [0, 1) source for shuffling answers (tests pin it). */
  random?: () => number;
}

/** The outcome for one question: answered here, or not a mesh name (forward it). */
type LocalResolution =
  | { kind: 'forward' }
  | { kind: 'answer'; records: DnsRecord[]; service: Service };

/** One name to try, and whether it came from stripping a search domain (then a CNAME is due). */
interface NameAlias {
  name: string;
  viaSearchDomain: boolean;
}

/** The search domains a pod in `namespace` has (synthesised, not read from the pod, as Istio's shared mode does). */
export function searchDomains(namespace: string, clusterDomain: string): string[] {
  return [`${namespace}.svc.${clusterDomain}`, `svc.${clusterDomain}`, clusterDomain];
}

/** Kubernetes short forms of `name` completed for a client in `namespace` (the name itself not included). */
export function kubernetesExpansions(name: string, namespace: string, clusterDomain: string): string[] {
  const labels = name.split('.');
  if (labels.length === 1) return [`${name}.${namespace}.svc.${clusterDomain}`];
  if (labels.length === 2) return [`${name}.svc.${clusterDomain}`];
  if (labels.length === 3 && labels[2] === 'svc') return [`${name}.${clusterDomain}`];
  return [];
}

/**
 * Every alias of the asked name in the order they are tried: the name and its Kubernetes expansions, then for each
 * search domain the name ends with, the stripped name and its expansions. Lower-case, de-duplicated.
 */
export function nameAliases(asked: string, client: DnsClientView, clusterDomain: string): NameAlias[] {
  const name = asked.toLowerCase().replace(/\.$/, '');
  const domain = clusterDomain.toLowerCase();
  const seen = new Set<string>();
  const out: NameAlias[] = [];
  const add = (n: string, viaSearchDomain: boolean) => {
    if (n === '' || seen.has(n)) return;
    seen.add(n);
    out.push({ name: n, viaSearchDomain });
  };
  add(name, false);
  for (const e of kubernetesExpansions(name, client.namespace, domain)) add(e, false);
  for (const search of searchDomains(client.namespace.toLowerCase(), domain)) {
    if (!name.endsWith(`.${search}`)) continue;
    const stripped = name.slice(0, -search.length - 1);
    add(stripped, true);
    for (const e of kubernetesExpansions(stripped, client.namespace, domain)) add(e, true);
  }
  return out;
}

/** `a.b.c` → `*.b.c`, `*.c` (most specific first). */
export function wildcardsOf(name: string): string[] {
  const labels = name.split('.');
  const out: string[] = [];
  for (let i = 1; i < labels.length; i++) out.push(`*.${labels.slice(i).join('.')}`);
  return out;
}

/** Fisher–Yates with the given source: clients that take the first address spread over all of them. */
function shuffle<T>(list: T[], random: () => number): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}

function isHostVip(v: { address: string; length?: number }): boolean {
  return v.length === undefined || v.length === (v.address.includes(':') ? 128 : 32);
}

/** The service answering `hostname` for this client, if any (VIP-less ones only as cluster-local headless services). */
function bestService(state: ProxyState, hostname: string, client: DnsClientView, clusterDomain: string): Service | undefined {
  const headlessSuffix = `.svc.${clusterDomain.toLowerCase()}`;
  return state.servicesByHostname(hostname, client.namespace).find((s) => s.vips.length > 0 || s.hostname.toLowerCase().endsWith(headlessSuffix));
}

/** The addresses of `service` of one family on the client's network: its VIPs, or (headless) its endpoints' IPs. */
function serviceAddresses(state: ProxyState, service: Service, family: 4 | 6, network: string): string[] {
  const wanted = (ip: string) => (family === 6) === ip.includes(':');
  const out = new Set<string>();
  if (service.vips.length > 0) {
    for (const v of service.vips) if (v.network === network && isHostVip(v) && wanted(v.address)) out.add(v.address);
  } else {
    for (const w of state.endpoints(serviceKey(service))) {
      if (w.network !== network) continue;
      for (const ip of w.addresses) if (wanted(ip)) out.add(ip);
    }
  }
  return [...out];
}

/** Resolves one question locally, or says it must be forwarded. */
export function resolveLocally(state: ProxyState, question: DnsQuestion, client: DnsClientView, opts: LocalResolverOptions): LocalResolution {
  if (question.class !== RecordClass.IN) return { kind: 'forward' };
  if (question.type !== RecordType.A && question.type !== RecordType.AAAA) return { kind: 'forward' };
  for (const alias of nameAliases(question.name, client, opts.clusterDomain)) {
    for (const candidate of [alias.name, ...wildcardsOf(alias.name)]) {
      const service = bestService(state, candidate, client, opts.clusterDomain);
      if (!service) continue;
      const family = question.type === RecordType.A ? 4 : 6;
      const ips = family === 6 && !opts.ipv6 ? [] : shuffle(serviceAddresses(state, service, family, client.network), opts.random ?? Math.random);
      const records: DnsRecord[] = [];
      let owner = question.name;
      if (alias.viaSearchDomain) {
        // Answer the searched name with an alias to what it really is: the client's resolver is done.
        const target = candidate.startsWith('*.') ? alias.name : candidate;
        records.push({ name: question.name, type: RecordType.CNAME, class: RecordClass.IN, ttl: LOCAL_ANSWER_TTL_SECONDS, data: { kind: 'cname', target } });
        owner = target;
      }
      for (const ip of ips) {
        records.push({
          name: owner, type: question.type, class: RecordClass.IN, ttl: LOCAL_ANSWER_TTL_SECONDS,
          data: family === 4 ? { kind: 'a', address: ip } : { kind: 'aaaa', address: ip },
        });
      }
      return { kind: 'answer', records, service };
    }
  }
  return { kind: 'forward' };
}
