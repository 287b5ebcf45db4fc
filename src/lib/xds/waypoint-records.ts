// Plain mirror of ambit.waypoint.v1.WaypointConfig (proto/ambit/waypoint/v1/waypoint.proto) and its wire codec.
import { create, toBinary, type JsonObject } from '@bufbuild/protobuf';
import { WaypointConfigSchema } from '../../../proto/gen/ambit/waypoint/v1/waypoint_pb.js';

export interface BoundServiceRecord {
  /** `namespace/hostname` of the istio.workload.Service resource. */
  key: string;
  kind: 'Service' | 'ServiceEntry';
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
}

export function waypointResourceName(w: WaypointConfigRecord): string {
  return `${w.namespace}/${w.name}`;
}

export function encodeWaypointConfig(w: WaypointConfigRecord): Uint8Array {
  return toBinary(WaypointConfigSchema, create(WaypointConfigSchema, w));
}
