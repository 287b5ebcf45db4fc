// Renders the Service VIP rules for a node netns (the kube-proxy role for pods outside the mesh): a pure function.
// A connection to VIP:port is DNATed to one ready endpoint picked at random; a pod that reaches itself through
// its own Service is masqueraded so the reply comes back through the node (hairpin).
import { matchLabels, type KubeObject } from '../api/index.js';

const SERVICE_TABLE = 'ambit_services';

interface ServicePortRule {
  vip: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** `ip:port` targets, in a stable order. */
  endpoints: Array<{ ip: string; port: number }>;
}

interface PortSpec {
  port: number;
  targetPort?: number | string;
  protocol?: string;
}

interface ContainerPortSpec {
  name?: string;
  containerPort: number;
  protocol?: string;
}

/** The VIP port → endpoint table from Services and Pods (Running, with an IP, selected by the Service). */
export function servicePortRules(services: KubeObject[], pods: KubeObject[]): ServicePortRule[] {
  const out: ServicePortRule[] = [];
  const ready = pods.filter((p) => {
    const st = (p.status ?? {}) as { phase?: string; podIP?: string };
    return st.phase === 'Running' && !!st.podIP;
  });
  for (const svc of services) {
    const spec = (svc.spec ?? {}) as { clusterIP?: string; selector?: Record<string, string>; ports?: PortSpec[]; type?: string };
    if (!spec.clusterIP || spec.clusterIP === 'None' || spec.type === 'ExternalName') continue;
    const selected = spec.selector && Object.keys(spec.selector).length > 0
      ? ready.filter((p) => p.metadata.namespace === svc.metadata.namespace && matchLabels(spec.selector!, p.metadata.labels ?? {}))
      : [];
    for (const sp of spec.ports ?? []) {
      const protocol = (sp.protocol ?? 'TCP').toLowerCase();
      if (protocol !== 'tcp' && protocol !== 'udp') continue;
      const endpoints: Array<{ ip: string; port: number }> = [];
      for (const pod of selected) {
        const port = resolveTargetPort(sp, pod);
        if (port !== undefined) endpoints.push({ ip: (pod.status as { podIP: string }).podIP, port });
      }
      endpoints.sort((a, b) => (a.ip === b.ip ? a.port - b.port : a.ip < b.ip ? -1 : 1));
      out.push({ vip: spec.clusterIP, port: sp.port, protocol, endpoints });
    }
  }
  return out.sort((a, b) => (a.vip === b.vip ? a.port - b.port : a.vip < b.vip ? -1 : 1));
}

/** The pod port a Service port targets: a number, a container port name, or (absent) the service port itself. */
function resolveTargetPort(sp: PortSpec, pod: KubeObject): number | undefined {
  if (typeof sp.targetPort === 'number') return sp.targetPort;
  if (sp.targetPort === undefined || sp.targetPort === '') return sp.port;
  const containers = ((pod.spec ?? {}) as { containers?: Array<{ ports?: ContainerPortSpec[] }> }).containers ?? [];
  for (const c of containers) for (const p of c.ports ?? []) if (p.name === sp.targetPort) return p.containerPort;
  return undefined;
}

/** One `nft -f` transaction replacing the node's service table. */
export function renderServiceRules(rules: ServicePortRule[]): string {
  const lines = [`table ip ${SERVICE_TABLE} {`, '}', `delete table ip ${SERVICE_TABLE}`, `table ip ${SERVICE_TABLE} {`];
  const dispatch: string[] = [];
  const hairpin = new Set<string>();
  let chain = 0;
  for (const r of rules) {
    if (r.endpoints.length === 0) continue; // no endpoint: the VIP is unroutable and the connection fails fast
    const targets: string[] = [];
    for (const ep of r.endpoints) {
      const name = `ep${chain++}`;
      lines.push(`  chain ${name} {`, `    meta l4proto ${r.protocol} dnat to ${ep.ip}:${ep.port}`, '  }');
      targets.push(name);
      hairpin.add(ep.ip);
    }
    const pick = targets.length === 1
      ? `jump ${targets[0]}`
      : `numgen random mod ${targets.length} vmap { ${targets.map((t, i) => `${i} : jump ${t}`).join(', ')} }`;
    dispatch.push(`    ip daddr ${r.vip} ${r.protocol} dport ${r.port} ${pick}`);
  }
  lines.push('  chain services {', ...dispatch, '  }');
  lines.push('  chain prerouting {', '    type nat hook prerouting priority dstnat; policy accept;', '    jump services', '  }');
  lines.push('  chain output {', '    type nat hook output priority -100; policy accept;', '    jump services', '  }');
  lines.push('  chain postrouting {', '    type nat hook postrouting priority srcnat; policy accept;');
  for (const ip of [...hairpin].sort()) lines.push(`    ct status dnat ip saddr ${ip} ip daddr ${ip} masquerade`);
  lines.push('  }', '}', '');
  return lines.join('\n');
}
