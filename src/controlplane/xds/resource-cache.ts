// Encoded resources as the xDS server sends them: one wire encoding per (type, name, version), shared by every
// client. Rebuilt lazily from the ambient index when a version changes.
import { create } from '@bufbuild/protobuf';
import { AnySchema, type Any } from '@bufbuild/protobuf/wkt';
import { ResourceSchema, type Resource } from '../../../proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import { ADDRESS_TYPE_URL, AUTHORIZATION_TYPE_URL, MESH_SETTINGS_TYPE_URL, WAYPOINT_TYPE_URL } from '../../lib/xds/type-urls.js';
import { encodeMeshSettings, type MeshSettingsRecord } from '../../lib/xds/mesh-settings.js';
import { encodeAddress, encodeAuthorization } from '../../lib/xds/workload-codec.js';
import { encodeWaypointConfig, type WaypointConfigRecord } from '../../lib/xds/waypoint-records.js';
import type { AddressRecord, AuthorizationRecord } from '../../lib/xds/workload-records.js';
import type { AmbientIndex } from '../ambient/ambient-index.js';

const ENCODERS: Record<string, (record: unknown) => Uint8Array> = {
  [ADDRESS_TYPE_URL]: (r) => encodeAddress(r as AddressRecord),
  [AUTHORIZATION_TYPE_URL]: (r) => encodeAuthorization(r as AuthorizationRecord),
  [WAYPOINT_TYPE_URL]: (r) => encodeWaypointConfig(r as WaypointConfigRecord),
  [MESH_SETTINGS_TYPE_URL]: (r) => encodeMeshSettings(r as MeshSettingsRecord),
};

export class ResourceCache {
  readonly #encoded = new Map<string, Map<string, { version: string; resource: Resource; bytes: number }>>();

  readonly #index: AmbientIndex;

  constructor(index: AmbientIndex) {
    this.#index = index;
  }

  /** Current version of a resource, or undefined when it does not exist. */
  version(typeUrl: string, name: string): string | undefined {
    return this.#index.resources(typeUrl).get(name)?.version;
  }

  /** Names of every resource of a type. */
  names(typeUrl: string): IterableIterator<string> {
    return this.#index.resources(typeUrl).keys();
  }

  /** The envoy Resource wrapper for the current version (encoded once per version). */
  resource(typeUrl: string, name: string): { resource: Resource; bytes: number } | undefined {
    const cur = this.#index.resources(typeUrl).get(name);
    if (!cur) return undefined;
    let byName = this.#encoded.get(typeUrl);
    if (!byName) this.#encoded.set(typeUrl, (byName = new Map()));
    const hit = byName.get(name);
    if (hit && hit.version === cur.version) return hit;
    const value = ENCODERS[typeUrl]!(cur.record);
    const any: Any = create(AnySchema, { typeUrl, value });
    const resource = create(ResourceSchema, { name, version: cur.version, resource: any });
    const entry = { version: cur.version, resource, bytes: value.length };
    byName.set(name, entry);
    return entry;
  }

  /** Drops encodings of removed resources. */
  forget(typeUrl: string, name: string): void {
    this.#encoded.get(typeUrl)?.delete(name);
  }
}
