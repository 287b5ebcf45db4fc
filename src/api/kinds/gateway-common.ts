// Gateway API building blocks shared by Gateway and the route kinds: names, hostnames, parent and backend references.
import { checkDns1123Label, checkDns1123Subdomain, isSet } from './checks.js';
import { int, obj, req, str, type Check, type ObjectSchema, type Schema } from './schema.js';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

export interface BackendRef {
  /** Default `""` (core). */
  group?: string;
  /** Default `Service`. */
  kind?: string;
  name: string;
  namespace?: string;
  /** Required for a Service backend. */
  port?: number;
  /** Relative weight, default 1; 0 sends nothing. */
  weight?: number;
}

// Gateway API hostnames are lowercase, optionally starting with a single `*.` label.
const GATEWAY_HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const checkGatewayHostname: Check<string> = (v, path, { p }) => {
  if (v.length > 253 || !GATEWAY_HOSTNAME.test(v)) p.error(path, `${JSON.stringify(v)} is not a valid hostname (lowercase DNS labels, optionally starting with '*.'; no IP addresses)`);
};
export const checkPreciseHostname: Check<string> = (v, path, ctx) => {
  if (v.startsWith('*')) ctx.p.error(path, `${JSON.stringify(v)}: a wildcard is not allowed here`);
  else checkGatewayHostname(v, path, ctx);
};

/** Parent kinds a route may attach to, with their groups. */
const PARENT_KINDS: Record<string, readonly string[]> = {
  Gateway: [GATEWAY_GROUP],
  Service: ['', 'core'],
  ServiceEntry: ['networking.istio.io'],
};
/** Backend kinds a route may send to, with their groups. */
const BACKEND_KINDS: Record<string, readonly string[]> = {
  Service: ['', 'core'],
  ServiceEntry: ['networking.istio.io'],
};

function checkGroupKind(table: Record<string, readonly string[]>, defGroup: string, defKind: string): Check<Record<string, unknown>> {
  return (ref, path, { p }) => {
    const kind = (ref['kind'] as string | undefined) ?? defKind;
    const group = (ref['group'] as string | undefined) ?? defGroup;
    const groups = table[kind];
    if (!groups) return p.error(`${path}.kind`, `unknown value ${JSON.stringify(kind)} (accepted: ${Object.keys(table).join(', ')})`);
    if (!groups.includes(group)) p.error(`${path}.group`, `${JSON.stringify(group)} is not the group of kind ${kind} (use ${JSON.stringify(groups[0])})`);
  };
}

export const parentRef = (): ObjectSchema =>
  obj(
    {
      group: str(),
      kind: str({ nonEmpty: true }),
      namespace: str({ check: checkDns1123Label }),
      name: req(str({ check: checkDns1123Subdomain })),
      sectionName: str({ check: checkDns1123Subdomain }),
      port: int({ min: 1, max: 65535 }),
    },
    { check: checkGroupKind(PARENT_KINDS, GATEWAY_GROUP, 'Gateway') },
  );

/** A backend reference; `extra` adds route-specific fields (weight, filters). */
export const backendRef = (extra: Record<string, Schema> = {}): ObjectSchema =>
  obj(
    {
      group: str(),
      kind: str({ nonEmpty: true }),
      name: req(str({ check: checkDns1123Subdomain })),
      namespace: str({ check: checkDns1123Label }),
      port: int({ min: 1, max: 65535 }),
      ...extra,
    },
    {
      check: (ref, path, ctx) => {
        checkGroupKind(BACKEND_KINDS, '', 'Service')(ref, path, ctx);
        const kind = (ref['kind'] as string | undefined) ?? 'Service';
        if (kind === 'Service' && !isSet(ref['port'])) ctx.p.error(`${path}.port`, 'required field is missing (for a Service backend)');
      },
    },
  );

export const weight = () => int({ min: 0, max: 1_000_000 });
