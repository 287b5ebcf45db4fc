// The MeshSettings resource (proto/ambit/mesh/v1/mesh_settings.proto): mesh-wide settings ztunnel applies, as a
// record, with its codec. One resource named MESH_SETTINGS_NAME; when it is absent every setting has its default.
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type { Decoded } from './workload-codec.js';
import { MeshSettingsSchema, OutboundTrafficMode } from '../../../proto/gen/ambit/mesh/v1/mesh_settings_pb.js';

export const MESH_SETTINGS_NAME = 'mesh';

type OutboundTrafficModeName = 'ALLOW_ANY' | 'REGISTRY_ONLY';

export interface MeshSettingsRecord {
  outboundTrafficMode: OutboundTrafficModeName;
}

export const DEFAULT_MESH_SETTINGS: MeshSettingsRecord = { outboundTrafficMode: 'ALLOW_ANY' };

export function encodeMeshSettings(s: MeshSettingsRecord): Uint8Array {
  return toBinary(MeshSettingsSchema, create(MeshSettingsSchema, { outboundTrafficMode: OutboundTrafficMode[s.outboundTrafficMode] }));
}

/** An unknown mode is refused (NACKed): ztunnel keeps the settings it has rather than guess. */
export function decodeMeshSettings(bytes: Uint8Array): Decoded<MeshSettingsRecord> {
  try {
    const m = fromBinary(MeshSettingsSchema, bytes);
    const mode = OutboundTrafficMode[m.outboundTrafficMode] as OutboundTrafficModeName | undefined;
    if (mode !== 'ALLOW_ANY' && mode !== 'REGISTRY_ONLY') return { ok: false, reason: `outbound_traffic_mode: unknown value ${m.outboundTrafficMode}` };
    return { ok: true, value: { outboundTrafficMode: mode } };
  } catch (err) {
    return { ok: false, reason: `not a MeshSettings message: ${(err as Error).message}` };
  }
}
