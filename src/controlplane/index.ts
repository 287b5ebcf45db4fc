// The control plane's public surface for the composition root (src/main.ts).
export { runControlPlane } from './controlplane.js';
