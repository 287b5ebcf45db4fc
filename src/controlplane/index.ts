// The control plane's public surface for the composition root (src/main.ts).
export { runControlPlane, ControlPlaneError } from './controlplane.js';
export type { ControlPlaneConfig, ControlPlaneHandle } from './controlplane.js';
export type { ApiServer } from './apiserver/api-server.js';
export type { Store } from './store/store.js';
