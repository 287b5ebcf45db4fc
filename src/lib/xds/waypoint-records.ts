// Plain mirror of ambit.waypoint.v1.WaypointConfig (proto/ambit/waypoint/v1/waypoint.proto) and its wire codec.
import { create, fromBinary, toBinary, type JsonObject } from '@bufbuild/protobuf';
import type { Decoded } from './workload-codec.js';
import { WaypointConfigSchema } from '../../../proto/gen/ambit/waypoint/v1/waypoint_pb.js';

export interface BoundServiceRecord {
  /** `namespace/hostname` of the istio.workload.Service resource. */
  key: string;
  /** GatewayListener: a listener of an ingress gateway (the routes attached to it name it). */
  kind: 'Service' | 'ServiceEntry' | 'GatewayListener';
  name: string;
  namespace: string;
  hostname: string;
  vips: string[];
  ports: Array<{ port: number; targetPort: number; name: string; protocol: string }>;
}

export interface AttachedResourceRecord {
  kind: string;
  namespace: string;
  name: string;
  resourceVersion: string;
  spec: JsonObject;
  /** `namespace/hostname` of the bound services it applies to; empty = the whole waypoint. */
  services: string[];
  /** An AuthorizationPolicy annotated `istio.io/dry-run: "true"`: evaluated and logged, never enforced. */
  dryRun?: boolean;
}

export interface ExtensionProviderRecord {
  name: string;
  /** `envoyExtAuthzHttp` as written in the mesh config (see src/api/mesh-config.ts). */
  envoyExtAuthzHttp?: JsonObject;
  /** `opentelemetry` (OTLP/HTTP) as parsed from the mesh config. */
  opentelemetry?: JsonObject;
  /** `envoyExtAuthzGrpc` as written in the mesh config. */
  envoyExtAuthzGrpc?: JsonObject;
  /** The provider type when Ambit cannot use it. */
  unsupported?: string;
}

export interface WaypointConfigRecord {
  name: string;
  namespace: string;
  trafficType: string;
  trustDomain: string;
  hbonePort: number;
  services: BoundServiceRecord[];
  workloadUids: string[];
  routes: AttachedResourceRecord[];
  authorizationPolicies: AttachedResourceRecord[];
  requestAuthentications: AttachedResourceRecord[];
  /** Providers of the CUSTOM policies above; optional so records built before it existed stay valid. */
  extensionProviders?: ExtensionProviderRecord[];
  /** Tracing from the Telemetry that applies to this waypoint; absent = no spans. */
  tracing?: { provider: ExtensionProviderRecord; randomSamplingPercentage: number; telemetry: string };
  /** A Telemetry turned the per-request access log off. */
  accessLoggingDisabled?: boolean;
  /** Istio metric names (REQUEST_COUNT, …) a Telemetry's metrics overrides disabled. */
  disabledMetrics?: string[];
  /** Ingress gateways: the ports served to clients outside the mesh. */
  ingressPorts?: IngressPortRecord[];
  /** Ingress gateways: keys of the Services they reach through their waypoint (istio.io/ingress-use-waypoint). */
  ingressUseWaypoint?: string[];
}

export interface IngressPortRecord {
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  /** Most specific hostname first; `hostname` '' = any host. */
  listeners: Array<{ name: string; hostname: string; serviceKey: string; certChain?: string; privateKey?: string }>;
}

export function waypointResourceName(w: WaypointConfigRecord): string {
  return `${w.namespace}/${w.name}`;
}

export function encodeWaypointConfig(w: WaypointConfigRecord): Uint8Array {
  return toBinary(WaypointConfigSchema, create(WaypointConfigSchema, w));
}

/**
 * Decodes one WaypointConfig. A service without a key or a VIP that is not an IP makes the resource unusable
 * (NACKed): the waypoint would otherwise take traffic it cannot attribute to a service.
 */
export function decodeWaypointConfig(bytes: Uint8Array): Decoded<WaypointConfigRecord> {
  try {
    const m = fromBinary(WaypointConfigSchema, bytes);
    const attached = (list: typeof m.routes): AttachedResourceRecord[] =>
      list.map((a) => ({ kind: a.kind, namespace: a.namespace, name: a.name, resourceVersion: a.resourceVersion, spec: (a.spec ?? {}) as JsonObject, services: [...a.services], ...(a.dryRun ? { dryRun: true } : {}) }));
    for (const svc of m.services) {
      if (!svc.key) return { ok: false, reason: `service ${svc.namespace}/${svc.name}: empty key` };
      const bad = svc.vips.find((v) => !/^[0-9a-fA-F:.]+$/.test(v));
      if (bad !== undefined) return { ok: false, reason: `service ${svc.key}: vip '${bad}' is not an IP address` };
    }
    return {
      ok: true,
      value: {
        name: m.name,
        namespace: m.namespace,
        trafficType: m.trafficType,
        trustDomain: m.trustDomain,
        hbonePort: m.hbonePort,
        services: m.services.map((s) => ({
          key: s.key, kind: s.kind === 'ServiceEntry' || s.kind === 'GatewayListener' ? s.kind : 'Service', name: s.name, namespace: s.namespace, hostname: s.hostname,
          vips: [...s.vips], ports: s.ports.map((p) => ({ port: p.port, targetPort: p.targetPort, name: p.name, protocol: p.protocol })),
        })),
        workloadUids: [...m.workloadUids],
        routes: attached(m.routes),
        authorizationPolicies: attached(m.authorizationPolicies),
        requestAuthentications: attached(m.requestAuthentications),
        ...(m.extensionProviders.length ? {
          extensionProviders: m.extensionProviders.map((p) => ({
            name: p.name, ...(p.envoyExtAuthzHttp ? { envoyExtAuthzHttp: p.envoyExtAuthzHttp as JsonObject } : {}),
            ...(p.envoyExtAuthzGrpc ? { envoyExtAuthzGrpc: p.envoyExtAuthzGrpc as JsonObject } : {}), ...(p.unsupported ? { unsupported: p.unsupported } : {}),
          })),
        } : {}),
        ...(m.accessLoggingDisabled ? { accessLoggingDisabled: true } : {}),
        ...(m.disabledMetrics.length ? { disabledMetrics: [...m.disabledMetrics] } : {}),
        ...(m.ingressUseWaypoint.length ? { ingressUseWaypoint: [...m.ingressUseWaypoint] } : {}),
        ...(m.ingressPorts.length ? {
          ingressPorts: m.ingressPorts.map((p) => ({
            port: p.port, protocol: p.protocol === 'HTTPS' ? 'HTTPS' : 'HTTP',
            listeners: p.listeners.map((l) => ({ name: l.name, hostname: l.hostname, serviceKey: l.serviceKey, ...(l.certChain ? { certChain: l.certChain, privateKey: l.privateKey } : {}) })),
          })),
        } : {}),
        ...(m.tracing?.provider ? {
          tracing: {
            provider: { name: m.tracing.provider.name, ...(m.tracing.provider.opentelemetry ? { opentelemetry: m.tracing.provider.opentelemetry as JsonObject } : {}) },
            randomSamplingPercentage: m.tracing.randomSamplingPercentage, telemetry: m.tracing.telemetry,
          },
        } : {}),
      },
    };
  } catch (err) {
    return { ok: false, reason: `cannot decode: ${(err as Error).message}` };
  }
}
