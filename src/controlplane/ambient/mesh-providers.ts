// The mesh config (ConfigMap `istio`, key `mesh`, in the root namespace) as the index reads it: the extension
// providers (what the waypoints' CUSTOM policies call, and what their status reports) and the settings ztunnels
// apply (outbound traffic policy).
import type { JsonObject } from '@bufbuild/protobuf';
import { MESH_CONFIG_KEY, MESH_CONFIG_NAME, parseMeshConfig } from '../../api/mesh-config.js';
import type { ExtensionProviderRecord } from '../../lib/xds/waypoint-records.js';
import { DEFAULT_MESH_SETTINGS, type MeshSettingsRecord } from '../../lib/xds/mesh-settings.js';
import type { IndexReader } from './index-reader.js';

function meshConfigText(r: IndexReader): string | undefined {
  const cm = r.get('ConfigMap', r.config.rootNamespace, MESH_CONFIG_NAME);
  return (cm as { data?: Record<string, string> } | undefined)?.data?.[MESH_CONFIG_KEY];
}

/**
 * The settings ztunnels apply, or undefined when every one has its default (then no resource is served and
 * ztunnels use the defaults: a mesh without a mesh config behaves as before).
 */
export function meshSettings(r: IndexReader): MeshSettingsRecord | undefined {
  const text = meshConfigText(r);
  if (text === undefined) return undefined;
  const mode = parseMeshConfig(text).outboundTrafficMode;
  return mode === DEFAULT_MESH_SETTINGS.outboundTrafficMode ? undefined : { outboundTrafficMode: mode };
}

/** The mesh config's extension providers (ConfigMap istio, key mesh, in the root namespace); none when absent. */
export function meshProviders(r: IndexReader): ExtensionProviderRecord[] {
  const text = meshConfigText(r);
  if (text === undefined) return [];
  return parseMeshConfig(text).providers.map((p) => ({
    name: p.name,
    ...(p.envoyExtAuthzHttp ? { envoyExtAuthzHttp: p.envoyExtAuthzHttp as unknown as JsonObject } : {}),
    ...(p.envoyExtAuthzGrpc ? { envoyExtAuthzGrpc: p.envoyExtAuthzGrpc as unknown as JsonObject } : {}),
    ...(p.opentelemetry ? { opentelemetry: p.opentelemetry as unknown as JsonObject } : {}),
    ...(p.unsupported ? { unsupported: p.unsupported } : {}),
  }));
}

