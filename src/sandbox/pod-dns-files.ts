// Renders a pod's /etc/hosts and /etc/resolv.conf (bind-mounted by `ip netns exec` from /etc/netns/<netns>/): pure.
// Service names resolve from the hosts file in every form a pod uses: `svc` (own namespace), `svc.ns`,
// `svc.ns.svc` and `svc.ns.svc.cluster.local`.
import type { KubeObject } from '../api/index.js';

interface ServiceName {
  namespace: string;
  name: string;
  vip: string;
}

export function serviceNames(services: KubeObject[]): ServiceName[] {
  const out: ServiceName[] = [];
  for (const s of services) {
    const ip = ((s.spec ?? {}) as { clusterIP?: string }).clusterIP;
    if (ip && ip !== 'None') out.push({ namespace: s.metadata.namespace ?? 'default', name: s.metadata.name, vip: ip });
  }
  return out.sort((a, b) => (a.namespace === b.namespace ? (a.name < b.name ? -1 : 1) : a.namespace < b.namespace ? -1 : 1));
}

export function renderHosts(pod: { namespace: string; name: string; ip: string }, services: ServiceName[], domain: string): string {
  const lines = [
    '# Written by the ambit sandbox for this pod; rewritten when Services change.',
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    `${pod.ip}\t${pod.name}`,
  ];
  for (const s of services) {
    const names = [`${s.name}.${s.namespace}.svc.${domain}`, `${s.name}.${s.namespace}.svc`, `${s.name}.${s.namespace}`];
    if (s.namespace === pod.namespace) names.push(s.name);
    lines.push(`${s.vip}\t${names.join(' ')}`);
  }
  return `${lines.join('\n')}\n`;
}

export function renderResolvConf(namespace: string, dnsIp: string, domain: string): string {
  return [
    '# Written by the ambit sandbox; names of Services are also in /etc/hosts.',
    `nameserver ${dnsIp}`,
    `search ${namespace}.svc.${domain} svc.${domain} ${domain}`,
    'options ndots:5 timeout:1 attempts:1',
    '',
  ].join('\n');
}
