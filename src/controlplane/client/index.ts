// The control-plane client's public surface: the REST client, its errors and path helpers.
export { ApiClient } from './api-client.js';
export type { ClientEndpoint, ClientOptions, ObjectList, ListOptions, WatchOptions, WatchEvent, WatchEventType, WatchStream } from './api-client.js';
export { ClientError, isNotFound, isConflict } from './client-error.js';
export type { ApiStatus, StatusCause, ClientErrorCode } from './client-error.js';
export { resourcePath, versionOf } from '../../api/resource-path.js';
export type { ResourceType, PathTarget } from '../../api/resource-path.js';
