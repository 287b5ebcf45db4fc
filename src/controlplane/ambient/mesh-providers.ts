// The mesh config's extension providers (ConfigMap `istio`, key `mesh`, in the root namespace), as the index reads
// them: what the waypoints' CUSTOM policies call, and what their status reports.
import type { JsonObject } from '@bufbuild/protobuf';
import { MESH_CONFIG_KEY, MESH_CONFIG_NAME, parseMeshConfig } from '../../api/mesh-config.js';
import type { ExtensionProviderRecord } from '../../lib/xds/waypoint-records.js';
import type { IndexReader } from './index-reader.js';

/** The mesh config's extension providers (ConfigMap istio, key mesh, in the root namespace); none when absent. */
export function meshProviders(r: IndexReader): ExtensionProviderRecord[] {
  const cm = r.get('ConfigMap', r.config.rootNamespace, MESH_CONFIG_NAME);
  const text = (cm as { data?: Record<string, string> } | undefined)?.data?.[MESH_CONFIG_KEY];
  if (text === undefined) return [];
  return parseMeshConfig(text).providers.map((p) => ({
    name: p.name,
    ...(p.envoyExtAuthzHttp ? { envoyExtAuthzHttp: p.envoyExtAuthzHttp as unknown as JsonObject } : {}),
    ...(p.envoyExtAuthzGrpc ? { envoyExtAuthzGrpc: p.envoyExtAuthzGrpc as unknown as JsonObject } : {}),
    ...(p.opentelemetry ? { opentelemetry: p.opentelemetry as unknown as JsonObject } : {}),
    ...(p.unsupported ? { unsupported: p.unsupported } : {}),
  }));
}

