// Gateway API hostname matching, shared by the control plane (route attachment), the routing engine (route
// hostnames at an ingress listener) and the ingress gateway (picking a listener by SNI or Host): a pattern is an
// exact name or `*.suffix`, which covers one or more labels before the suffix; case and a trailing dot are ignored.

/** True when `host` (a name, no wildcard) is matched by `pattern`. */
export function hostnameMatches(pattern: string, host: string): boolean {
  const p = pattern.toLowerCase();
  const h = host.toLowerCase().replace(/\.$/, '');
  if (!p.startsWith('*.')) return p === h;
  return h.length > p.length - 1 && h.endsWith(p.slice(1));
}
