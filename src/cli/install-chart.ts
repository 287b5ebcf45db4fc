// The Helm chart in manifests/ambit, generated from installObjects(): the objects rendered with sentinel values that
// become template expressions (.Release.Namespace, .Values.*), CRDs under crds/ as Helm expects. `scripts/gen-chart.mjs`
// writes it; a unit test fails when the committed chart differs from what this renders.
import { stringify } from 'yaml';
import { customResourceDefinitions, toYaml, type KubeObject } from '../api/index.js';
import { installObjects } from '../api/index.js';

const SENTINELS: ReadonlyArray<{ token: string; whole: string; inside: string }> = [
  { token: '__AMBIT_NAMESPACE__', whole: '{{ .Release.Namespace | quote }}', inside: '{{ .Release.Namespace }}' },
  { token: '__AMBIT_IMAGE__', whole: '{{ .Values.image | quote }}', inside: '{{ .Values.image }}' },
  { token: '__AMBIT_TRUST_DOMAIN__', whole: '{{ .Values.trustDomain | quote }}', inside: '{{ .Values.trustDomain }}' },
  { token: '__AMBIT_LOG_LEVEL__', whole: '{{ .Values.logLevel | quote }}', inside: '{{ .Values.logLevel }}' },
  {
    token: '__AMBIT_XDS_ADDRESS__',
    whole: '{{ .Values.xdsAddress | default (printf "ambit-controlplane.%s.svc:15012" .Release.Namespace) | quote }}',
    inside: '{{ .Values.xdsAddress | default (printf "ambit-controlplane.%s.svc:15012" .Release.Namespace) }}',
  },
];

const HEADER = '# Generated from src/api/install-objects.ts by scripts/gen-chart.mjs: edit that file, not this one.\n';

/** Each object as its own `---` document, printed as `ambit get -o yaml` prints (YAML 1.1-safe quoting for kubectl). */
function yamlDocs(objs: readonly KubeObject[]): string {
  return objs.map((o) => `---\n${toYaml([o])}`).join('');
}

/** Chart files by path relative to the chart's directory. */
export function chartFiles(version: string): Record<string, string> {
  const objs = installObjects({ namespace: SENTINELS[0]!.token, image: SENTINELS[1]!.token, trustDomain: SENTINELS[2]!.token, logLevel: SENTINELS[3]!.token, xdsAddress: SENTINELS[4]!.token });
  const crdCount = customResourceDefinitions().length;
  let text = yamlDocs(objs.slice(crdCount));
  for (const s of SENTINELS) {
    text = text.replace(new RegExp(`(: |- )${s.token}$`, 'gm'), `$1${s.whole}`).replaceAll(s.token, s.inside);
  }
  return {
    'Chart.yaml': stringify({
      apiVersion: 'v2', name: 'ambit', version, appVersion: version, type: 'application',
      description: 'Ambit: an ambient (sidecar-less) service mesh speaking Istio\'s APIs — control plane, ztunnel and node agent',
      home: 'https://github.com/ambit-mesh/ambit', keywords: ['service-mesh', 'ambient', 'istio', 'mtls'],
    }),
    'values.yaml': `${HEADER}# The Ambit image (built from the repository's Dockerfile).\nimage: ambit/ambit:${version}\n# SPIFFE trust domain of issued identities.\ntrustDomain: cluster.local\n# Log level of every component: trace, debug, info, warn, error.\nlogLevel: info\n# Where ztunnel reaches the control plane (xDS + CA); empty: the chart's own Service in the release namespace.\nxdsAddress: ""\n`,
    'crds/crds.yaml': HEADER + yamlDocs(objs.slice(0, crdCount)),
    'templates/ambit.yaml': HEADER + text,
  };
}
