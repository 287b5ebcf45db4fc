// The xDS type URLs Ambit serves on its Delta ADS stream, and the resource-name rules of each (PROTOCOLS.md §6.1).

/** istio.workload.Address: Workload (named by uid) or Service (named `namespace/hostname`). */
export const ADDRESS_TYPE_URL = 'type.googleapis.com/istio.workload.Address';
/** istio.security.Authorization, named `namespace/name`. */
export const AUTHORIZATION_TYPE_URL = 'type.googleapis.com/istio.security.Authorization';
/** ambit.waypoint.v1.WaypointConfig, named by the waypoint Gateway's `namespace/name`. */
export const WAYPOINT_TYPE_URL = 'type.googleapis.com/ambit.waypoint.v1.WaypointConfig';

/** ambit.mesh.v1.MeshSettings, one resource named `mesh` (src/lib/xds/mesh-settings.ts). */
export const MESH_SETTINGS_TYPE_URL = 'type.googleapis.com/ambit.mesh.v1.MeshSettings';

export const SERVED_TYPE_URLS: readonly string[] = [ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, WAYPOINT_TYPE_URL, MESH_SETTINGS_TYPE_URL];

/** A short label for logs, metrics and `proxy-status` columns. */
export function shortTypeName(typeUrl: string): string {
  const dot = typeUrl.lastIndexOf('.');
  return dot < 0 ? typeUrl : typeUrl.slice(dot + 1);
}
