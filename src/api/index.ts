// The resource model's public surface: kinds, validation, label selectors and the YAML/JSON codecs.
// Importing this module registers every kind's spec validator (the kinds/ modules register on load).
import './kinds/core-cluster.js';
import './kinds/core-pod.js';
import './kinds/core-service.js';
import './kinds/security-authorization-policy.js';
import './kinds/security-authentication.js';
import './kinds/networking-entries.js';
import './kinds/networking-virtual-service.js';
import './kinds/networking-destination-rule.js';
import './kinds/gateway.js';
import './kinds/gateway-routes.js';
import './kinds/telemetry.js';

export * from './meta.js';
export * from './registry.js';
export * from './labels.js';
export * from './validate.js';
export * from './codec.js';
export * from './kinds/ambient-labels.js';
export * from './kinds/core-cluster.js';
export * from './kinds/core-pod.js';
export * from './kinds/core-service.js';
export * from './kinds/istio-common.js';
export * from './kinds/security-authorization-policy.js';
export * from './kinds/security-authentication.js';
export * from './kinds/networking-entries.js';
export * from './kinds/networking-virtual-service.js';
export * from './kinds/networking-destination-rule.js';
export * from './kinds/gateway-common.js';
export * from './kinds/gateway.js';
export * from './kinds/gateway-routes.js';
export * from './kinds/telemetry.js';
export * from './crd.js';
export * from './install-objects.js';
