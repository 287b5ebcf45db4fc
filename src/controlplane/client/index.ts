// The control-plane client's public surface: the REST client, its errors and path helpers.
export { ApiClient } from './api-client.js';
export type { ClientEndpoint, KubeEndpoint } from './api-client.js';
export { ClientError, isNotFound } from './client-error.js';
export { applyInstall, describeObject, installObjectPath } from './server-side-apply.js';
