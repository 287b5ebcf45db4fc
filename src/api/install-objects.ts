// What `ambit install` puts in a Kubernetes cluster, and what the Helm chart in manifests/ambit renders: the CRDs,
// the control plane (Deployment + Service, istiod's ports), ztunnel and the node agent (DaemonSets), their service
// accounts and RBAC. One source of truth in code; a test renders the chart with real Helm and requires the same
// objects, so the two cannot drift.
//
// Privileges follow Istio's ambient charts and no more: the control plane reads config and writes status, reviews
// tokens, manages waypoint pods and services and publishes its trust bundle; ztunnel has no API access at all (it
// authenticates to the control plane with a projected token, audience istio-ca) and gets the capabilities it needs
// to open sockets inside pod network namespaces; the node agent is privileged and on the host network, as istio-cni.
//
// Host directories are mounted under /var/run in the containers (the CNI dirs at /var/run/ambit-host/…, not Istio's
// /host/…): the node agent takes them as flags, and the sandbox's kubelet, which runs these very objects, can only
// mount under /run without touching the machine's filesystem.
import { customResourceDefinitions } from './crd.js';
import type { KubeObject } from './meta.js';
import { KINDS } from './registry.js';
import { PORT_CONTROL_PLANE_MONITORING, PORT_PROXY_STATS, PROXY_UID, ROOT_NAMESPACE } from '../lib/mesh-contract.js';

export interface InstallOptions {
  /** Namespace of the control plane, ztunnel and node agent (Istio's: istio-system). */
  namespace: string;
  /** The Ambit image (see the repository's Dockerfile). */
  image: string;
  trustDomain: string;
  logLevel: string;
  /** Where ztunnel reaches the control plane's xDS + CA port; default the in-cluster Service (an external one otherwise). */
  xdsAddress?: string;
}

export const DEFAULT_INSTALL: Omit<InstallOptions, 'image'> = { namespace: ROOT_NAMESPACE, trustDomain: 'cluster.local', logLevel: 'info' };

const LABELS = { 'app.kubernetes.io/part-of': 'ambit' };
/** Name of the control plane's Deployment, Service, ServiceAccount and RBAC. */
export const CONTROL_PLANE_NAME = 'ambit-controlplane';
/** The Secret in the install namespace the control plane keeps its self-managed CA root in (ca-secret.ts). */
export const CA_SECRET_NAME = 'ambit-ca';
const CONTROL_PLANE = CONTROL_PLANE_NAME;
/** Where the control plane finds Istio's optional `cacerts` Secret (istiod's path). */
const CACERTS_DIR = '/etc/cacerts';
const NODE_AGENT = 'ambit-nodeagent';
/** Where ztunnel and the node agent meet on every node (the ZDS socket), as Istio's /var/run/ztunnel. */
const ZDS_DIR = '/var/run/ztunnel';
/** Where ambit-cni reports new pods to the node agent (host path = container path: the plugin runs on the host). */
const CNI_SOCKET_DIR = '/var/run/ambit-cni';
/** The node's CNI config and plugin directories, as the node agent sees them. */
const HOST_CNI_CONF = '/var/run/ambit-host/etc/cni/net.d';
const HOST_CNI_BIN = '/var/run/ambit-host/opt/cni/bin';

function meta(name: string, namespace?: string, labels: Record<string, string> = {}): KubeObject['metadata'] {
  return { name, ...(namespace ? { namespace } : {}), labels: { ...LABELS, ...labels } };
}

const fieldEnv = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { fieldPath } } });

/** Every object, CRDs first, in apply order. */
export function installObjects(o: InstallOptions): KubeObject[] {
  const ns = o.namespace;
  const istioGroups = [...new Set(KINDS.filter((k) => k.group !== '').map((k) => k.group))].sort();
  const istioPlurals = KINDS.filter((k) => k.group !== '').map((k) => k.plural).sort();
  const objects: KubeObject[] = [
    ...customResourceDefinitions(),
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(CONTROL_PLANE, ns) },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta('ztunnel', ns) },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(NODE_AGENT, ns) },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(CONTROL_PLANE),
      rules: [
        { apiGroups: [''], resources: ['namespaces', 'nodes', 'pods', 'services', 'serviceaccounts', 'endpoints'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: istioGroups, resources: istioPlurals, verbs: ['get', 'list', 'watch'] },
        { apiGroups: istioGroups, resources: istioPlurals.map((p) => `${p}/status`), verbs: ['get', 'update', 'patch'] },
        // Waypoints: the controller deploys a Deployment and a Service per waypoint Gateway (and removes pods an older
        // Ambit made directly).
        { apiGroups: [''], resources: ['pods', 'services'], verbs: ['create', 'update', 'patch', 'delete'] },
        { apiGroups: ['apps'], resources: ['deployments'], verbs: ['get', 'create', 'update', 'patch', 'delete'] },
        { apiGroups: [''], resources: ['configmaps'], verbs: ['get', 'list', 'watch', 'create', 'update', 'patch'] },
        // Ingress gateways' certificates (kubernetes.io/tls Secrets named by their HTTPS listeners).
        { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch'] },
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta(CONTROL_PLANE),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CONTROL_PLANE },
      subjects: [{ kind: 'ServiceAccount', name: CONTROL_PLANE, namespace: ns }],
    },
    {
      // The CA root's Secret, and no other Secret: create cannot be limited to a name, reading and updating can.
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: meta(CONTROL_PLANE, ns),
      rules: [
        { apiGroups: [''], resources: ['secrets'], verbs: ['create'] },
        { apiGroups: [''], resources: ['secrets'], resourceNames: [CA_SECRET_NAME], verbs: ['get', 'update'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: meta(CONTROL_PLANE, ns),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: CONTROL_PLANE },
      subjects: [{ kind: 'ServiceAccount', name: CONTROL_PLANE, namespace: ns }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: meta(NODE_AGENT),
      rules: [
        { apiGroups: [''], resources: ['pods', 'namespaces'], verbs: ['get', 'list', 'watch'] },
        // Which pods must accept plaintext (PeerAuthentication mode PERMISSIVE/DISABLE) decides their capture rules.
        { apiGroups: ['security.istio.io'], resources: ['peerauthentications'], verbs: ['get', 'list', 'watch'] },
        // The node agent records enrolment on the pod (annotation ambient.istio.io/redirection).
        { apiGroups: [''], resources: ['pods'], verbs: ['patch'] },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: meta(NODE_AGENT),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NODE_AGENT },
      subjects: [{ kind: 'ServiceAccount', name: NODE_AGENT, namespace: ns }],
    },
    {
      apiVersion: 'v1', kind: 'Service', metadata: meta(CONTROL_PLANE, ns, { app: CONTROL_PLANE }),
      spec: {
        selector: { app: CONTROL_PLANE },
        ports: [{ name: 'grpc-xds-ca', port: 15012, targetPort: 15012, protocol: 'TCP' }, { name: 'http-monitoring', port: PORT_CONTROL_PLANE_MONITORING, targetPort: PORT_CONTROL_PLANE_MONITORING, protocol: 'TCP' }],
      },
    },
    {
      apiVersion: 'apps/v1', kind: 'Deployment', metadata: meta(CONTROL_PLANE, ns, { app: CONTROL_PLANE }),
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: CONTROL_PLANE } },
        template: {
          metadata: { labels: { app: CONTROL_PLANE } },
          spec: {
            serviceAccountName: CONTROL_PLANE,
            containers: [{
              name: 'controlplane', image: o.image,
              args: ['--in-cluster', '--data-dir', '/var/lib/ambit', 'controlplane', '--grpc-listen', '0.0.0.0:15012', '--metrics-listen', `0.0.0.0:${PORT_CONTROL_PLANE_MONITORING}`,
                '--ca-secret', `$(POD_NAMESPACE)/${CA_SECRET_NAME}`, '--cacerts-dir', CACERTS_DIR,
                '--trust-domain', o.trustDomain, '--log-level', o.logLevel],
              env: [fieldEnv('POD_NAMESPACE', 'metadata.namespace')],
              ports: [{ name: 'grpc-xds-ca', containerPort: 15012 }, { name: 'http-monitoring', containerPort: PORT_CONTROL_PLANE_MONITORING }],
              readinessProbe: { tcpSocket: { port: 15012 }, periodSeconds: 5 },
              securityContext: { runAsNonRoot: true, runAsUser: PROXY_UID, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, readOnlyRootFilesystem: true },
              volumeMounts: [{ name: 'data', mountPath: '/var/lib/ambit' }, { name: 'cacerts', mountPath: CACERTS_DIR, readOnly: true }],
            }],
            // Istio's plugged-in CA: a `cacerts` Secret, if the user made one, is used instead of a self-managed root.
            volumes: [{ name: 'data', emptyDir: {} }, { name: 'cacerts', secret: { secretName: 'cacerts', optional: true } }],
          },
        },
      },
    },
    {
      apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta('ztunnel', ns, { app: 'ztunnel' }),
      spec: {
        selector: { matchLabels: { app: 'ztunnel' } },
        template: {
          metadata: { labels: { app: 'ztunnel' } },
          spec: {
            serviceAccountName: 'ztunnel',
            // No API access: its only credential is the projected token below.
            automountServiceAccountToken: false,
            terminationGracePeriodSeconds: 30,
            tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }, { operator: 'Exists', effect: 'NoExecute' }],
            containers: [{
              name: 'istio-proxy', image: o.image,
              args: ['ztunnel', '--node', '$(NODE_NAME)', '--xds-address', o.xdsAddress ?? `${CONTROL_PLANE}.${ns}.svc:15012`,
                '--root-cert', '/var/run/secrets/istio/root-cert.pem', '--token-file', '/var/run/secrets/tokens/istio-token',
                '--zds-socket', `${ZDS_DIR}/ztunnel.sock`, '--admin-socket', 'off', '--node-ip', '$(INSTANCE_IP)', '--log-level', o.logLevel],
              env: [fieldEnv('NODE_NAME', 'spec.nodeName'), fieldEnv('INSTANCE_IP', 'status.podIP')],
              ports: [{ name: 'ztunnel-stats', containerPort: PORT_PROXY_STATS }],
              readinessProbe: { httpGet: { port: 15021, path: '/healthz/ready' }, periodSeconds: 5 },
              securityContext: {
                privileged: false, readOnlyRootFilesystem: true, runAsUser: 0, runAsGroup: PROXY_UID, runAsNonRoot: false, allowPrivilegeEscalation: true,
                capabilities: { drop: ['ALL'], add: ['NET_ADMIN', 'SYS_ADMIN', 'NET_RAW'] },
              },
              volumeMounts: [
                { name: 'istio-token', mountPath: '/var/run/secrets/tokens' },
                { name: 'istiod-ca-cert', mountPath: '/var/run/secrets/istio' },
                { name: 'cni-ztunnel-sock-dir', mountPath: ZDS_DIR },
              ],
            }],
            volumes: [
              { name: 'istio-token', projected: { sources: [{ serviceAccountToken: { audience: 'istio-ca', expirationSeconds: 43200, path: 'istio-token' } }] } },
              { name: 'istiod-ca-cert', configMap: { name: 'istio-ca-root-cert' } },
              { name: 'cni-ztunnel-sock-dir', hostPath: { path: ZDS_DIR, type: 'DirectoryOrCreate' } },
            ],
          },
        },
      },
    },
    {
      apiVersion: 'apps/v1', kind: 'DaemonSet', metadata: meta(NODE_AGENT, ns, { app: NODE_AGENT }),
      spec: {
        selector: { matchLabels: { app: NODE_AGENT } },
        template: {
          metadata: { labels: { app: NODE_AGENT } },
          spec: {
            serviceAccountName: NODE_AGENT,
            hostNetwork: true,
            tolerations: [{ operator: 'Exists', effect: 'NoSchedule' }, { operator: 'Exists', effect: 'NoExecute' }],
            containers: [{
              name: 'nodeagent', image: o.image,
              args: ['--in-cluster', 'nodeagent', '--node', '$(NODE_NAME)', '--zds-socket', `${ZDS_DIR}/ztunnel.sock`,
                '--cni-socket', `${CNI_SOCKET_DIR}/report.sock`, '--cni-conf-dir', HOST_CNI_CONF, '--cni-bin-dir', HOST_CNI_BIN, '--log-level', o.logLevel],
              env: [fieldEnv('NODE_NAME', 'spec.nodeName')],
              securityContext: { privileged: true, runAsUser: 0 },
              volumeMounts: [
                { name: 'cni-ztunnel-sock-dir', mountPath: ZDS_DIR },
                { name: 'cni-netns-dir', mountPath: '/var/run/netns', mountPropagation: 'HostToContainer' },
                { name: 'cni-socket-dir', mountPath: CNI_SOCKET_DIR },
                { name: 'cni-net-dir', mountPath: HOST_CNI_CONF },
                { name: 'cni-bin-dir', mountPath: HOST_CNI_BIN },
              ],
            }],
            volumes: [
              { name: 'cni-ztunnel-sock-dir', hostPath: { path: ZDS_DIR, type: 'DirectoryOrCreate' } },
              { name: 'cni-netns-dir', hostPath: { path: '/var/run/netns', type: 'DirectoryOrCreate' } },
              { name: 'cni-socket-dir', hostPath: { path: CNI_SOCKET_DIR, type: 'DirectoryOrCreate' } },
              { name: 'cni-net-dir', hostPath: { path: '/etc/cni/net.d', type: 'DirectoryOrCreate' } },
              { name: 'cni-bin-dir', hostPath: { path: '/opt/cni/bin', type: 'DirectoryOrCreate' } },
            ],
          },
        },
      },
    },
  ] as KubeObject[];
  return objects;
}
