// Pod: the spec fields the sandbox runs (containers with a command, env, ports) and the status it reports.
import { checkDns1123Label, checkDns1123Subdomain, checkIanaSvcName, checkIp, checkUnique, port } from './checks.js';
import { any, arr, defineKind, enumOf, ignored, int, obj, req, statusSchema, str, strings, type Schema } from './schema.js';

export type PortProtocol = 'TCP' | 'UDP' | 'SCTP';
export const PORT_PROTOCOLS: readonly PortProtocol[] = ['TCP', 'UDP', 'SCTP'];

interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: PortProtocol;
  hostPort?: number;
  hostIP?: string;
}

interface EnvVar {
  name: string;
  value?: string;
  /** Stored, not resolved (see POD_IGNORED). */
  valueFrom?: unknown;
}

interface Container {
  name: string;
  /** Stored; the sandbox runs `command`, it pulls no images. */
  image?: string;
  /** argv[0] and its arguments, run inside the pod's network namespace. */
  command: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  ports?: ContainerPort[];
  [ignoredField: string]: unknown;
}

// --- Fields Ambit stores but does not act on in its first release (shrink as features land) ---
const SANDBOX = 'not implemented by the sandbox pod runner';
const POD_IGNORED: Record<string, string> = {
  initContainers: 'init containers are not run by the sandbox',
  ephemeralContainers: SANDBOX,
  volumes: 'volumes are not mounted by the sandbox (containers see the host filesystem)',
  affinity: 'Ambit does not schedule pods: spec.nodeName places them',
  nodeSelector: 'Ambit does not schedule pods: spec.nodeName places them',
  tolerations: 'Ambit does not schedule pods: spec.nodeName places them',
  topologySpreadConstraints: 'Ambit does not schedule pods: spec.nodeName places them',
  schedulerName: 'Ambit does not schedule pods: spec.nodeName places them',
  priority: 'Ambit does not schedule pods: spec.nodeName places them',
  priorityClassName: 'Ambit does not schedule pods: spec.nodeName places them',
  preemptionPolicy: 'Ambit does not schedule pods: spec.nodeName places them',
  schedulingGates: 'Ambit does not schedule pods: spec.nodeName places them',
  runtimeClassName: SANDBOX,
  overhead: SANDBOX,
  resources: 'resource limits are not enforced by the sandbox',
  resourceClaims: SANDBOX,
  securityContext: 'processes run with the sandbox user and capabilities',
  hostNetwork: 'every sandbox pod gets its own network namespace',
  hostPID: SANDBOX,
  hostIPC: SANDBOX,
  hostUsers: SANDBOX,
  shareProcessNamespace: SANDBOX,
  hostAliases: SANDBOX,
  dnsPolicy: 'pods resolve names through the ztunnel DNS proxy or the sandbox hosts file',
  dnsConfig: 'pods resolve names through the ztunnel DNS proxy or the sandbox hosts file',
  subdomain: SANDBOX,
  setHostnameAsFQDN: SANDBOX,
  enableServiceLinks: 'service environment variables are not injected',
  imagePullSecrets: 'the sandbox pulls no images',
  automountServiceAccountToken: 'no service account token is mounted',
  activeDeadlineSeconds: SANDBOX,
  readinessGates: SANDBOX,
  os: SANDBOX,
  serviceAccount: 'deprecated alias: use spec.serviceAccountName',
};
const CONTAINER_IGNORED: Record<string, string> = {
  image: 'the sandbox pulls no images: it runs spec.containers[].command',
  imagePullPolicy: 'the sandbox pulls no images',
  envFrom: 'config maps and secrets are not available in Ambit',
  volumeMounts: 'volumes are not mounted by the sandbox',
  volumeDevices: 'volumes are not mounted by the sandbox',
  resources: 'resource limits are not enforced by the sandbox',
  resizePolicy: SANDBOX,
  securityContext: 'processes run with the sandbox user and capabilities',
  livenessProbe: 'probes are not run by the sandbox',
  readinessProbe: 'probes are not run by the sandbox',
  startupProbe: 'probes are not run by the sandbox',
  lifecycle: 'lifecycle hooks are not run by the sandbox',
  restartPolicy: SANDBOX,
  stdin: SANDBOX,
  stdinOnce: SANDBOX,
  tty: SANDBOX,
  terminationMessagePath: SANDBOX,
  terminationMessagePolicy: SANDBOX,
};
const ENV_IGNORED = { valueFrom: 'values from field, config map or secret references are not resolved' };

function ignoredFields(table: Record<string, string>): Record<string, Schema> {
  return Object.fromEntries(Object.entries(table).map(([k, why]) => [k, ignored(any(), why)]));
}

const containerPort = obj(
  {
    name: str({ check: checkIanaSvcName }),
    containerPort: req(port()),
    protocol: enumOf(PORT_PROTOCOLS),
    hostPort: ignored(port(), 'host ports are not mapped by the sandbox'),
    hostIP: ignored(str({ check: checkIp }), 'host ports are not mapped by the sandbox'),
  },
);

const container = obj({
  ...ignoredFields(CONTAINER_IGNORED),
  name: req(str({ check: checkDns1123Label })),
  image: ignored(str(), CONTAINER_IGNORED['image']!),
  command: req(strings({}, { minItems: 1 })),
  args: strings(),
  workingDir: str(),
  env: arr(
    obj({
      name: req(str({ nonEmpty: true })),
      value: str(),
      valueFrom: ignored(any(), ENV_IGNORED.valueFrom),
    }),
  ),
  ports: arr(containerPort),
});

const POD_SPEC = obj(
  {
    ...ignoredFields(POD_IGNORED),
    containers: req(arr(container, { minItems: 1 })),
    nodeName: str({ check: checkDns1123Subdomain }),
    serviceAccountName: str({ check: checkDns1123Subdomain }),
    restartPolicy: enumOf(['Always', 'OnFailure', 'Never']),
    hostname: str({ check: checkDns1123Label }),
    terminationGracePeriodSeconds: int({ min: 0 }),
  },
  {
    check: (spec, path, ctx) => {
      const containers = spec['containers'] as Container[];
      checkUnique(containers, (c, i) => ({ value: c.name, path: `${path}.containers[${i}].name` }), 'container name', ctx);
      // Every container shares the pod's network namespace: a port name or number may be declared once per pod.
      const ports = containers.flatMap((c, ci) => (c.ports ?? []).map((p, pi) => ({ p, at: `${path}.containers[${ci}].ports[${pi}]` })));
      checkUnique(ports, ({ p, at }) => ({ value: p.name, path: `${at}.name` }), 'port name', ctx);
      checkUnique(ports, ({ p, at }) => ({ value: `${p.containerPort}/${p.protocol ?? 'TCP'}`, path: `${at}.containerPort`, show: `${p.containerPort}/${p.protocol ?? 'TCP'}` }), 'port', ctx);
      containers.forEach((c, ci) => checkUnique(c.env ?? [], (e, ei) => ({ value: e.name, path: `${path}.containers[${ci}].env[${ei}].name` }), 'variable', ctx));
    },
  },
);

const podIPs = arr(obj({ ip: req(str({ check: checkIp })) }));

defineKind('Pod', {
  spec: POD_SPEC,
  status: statusSchema({
    phase: enumOf(['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown']),
    podIP: str({ check: checkIp }),
    podIPs,
    hostIP: str({ check: checkIp }),
    hostIPs: podIPs,
    startTime: str(),
  }),
});
