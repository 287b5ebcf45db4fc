// Server-side apply (field manager `ambit`, conflicts forced) of the kinds an Ambit install holds, by their REST path:
// what `ambit install` does, and what the sandbox does to run the same objects on its Kubernetes.
import type { KubeObject } from '../../api/index.js';
import type { ApiClient } from './api-client.js';
import { ClientError } from './client-error.js';

/** REST collection of the kinds an install holds. */
const COLLECTIONS: Record<string, { prefix: string; plural: string; namespaced: boolean }> = {
  CustomResourceDefinition: { prefix: '/apis/apiextensions.k8s.io/v1', plural: 'customresourcedefinitions', namespaced: false },
  Namespace: { prefix: '/api/v1', plural: 'namespaces', namespaced: false },
  ServiceAccount: { prefix: '/api/v1', plural: 'serviceaccounts', namespaced: true },
  Service: { prefix: '/api/v1', plural: 'services', namespaced: true },
  ConfigMap: { prefix: '/api/v1', plural: 'configmaps', namespaced: true },
  ClusterRole: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterroles', namespaced: false },
  ClusterRoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings', namespaced: false },
  Role: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'roles', namespaced: true },
  RoleBinding: { prefix: '/apis/rbac.authorization.k8s.io/v1', plural: 'rolebindings', namespaced: true },
  Deployment: { prefix: '/apis/apps/v1', plural: 'deployments', namespaced: true },
  DaemonSet: { prefix: '/apis/apps/v1', plural: 'daemonsets', namespaced: true },
};

/** `kind/name -n namespace`, as kubectl names objects. */
export function describeObject(obj: KubeObject): string {
  return `${obj.kind.toLowerCase()}/${obj.metadata.name}${obj.metadata.namespace ? ` -n ${obj.metadata.namespace}` : ''}`;
}

/** The object's REST path; a kind outside an install's is refused by name. */
export function installObjectPath(obj: KubeObject): string {
  const c = COLLECTIONS[obj.kind];
  if (!c) throw new Error(`no REST path known for kind ${obj.kind}`);
  const ns = c.namespaced ? `/namespaces/${obj.metadata.namespace}` : '';
  return `${c.prefix}${ns}/${c.plural}/${obj.metadata.name}`;
}

/** Creates the namespace when missing, then applies each object in order; `onApplied` after each. */
export async function applyInstall(api: ApiClient, namespace: string, objects: readonly KubeObject[], onApplied: (obj: KubeObject) => void = () => undefined): Promise<void> {
  await api.requestJson('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: namespace } }).catch((err) => {
    if (!(err instanceof ClientError && err.status === 409)) throw err;
  });
  for (const obj of objects) {
    try {
      await api.requestJson('PATCH', `${installObjectPath(obj)}?fieldManager=ambit&force=true`, obj, 'application/apply-patch+yaml');
    } catch (err) {
      throw new Error(`${describeObject(obj)}: ${(err as Error).message}`, { cause: err });
    }
    onApplied(obj);
  }
}
