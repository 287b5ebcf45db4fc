// CustomResourceDefinitions for every Istio and Gateway API kind Ambit serves, generated from Ambit's own schemas
// (`ambit install --print-crds`): the official groups, kinds, plurals and versions, so the objects users already
// have apply unchanged. The structural schema carries types, required fields, enums and bounds; the finer checks
// (hostnames, regexes, cross-field rules) stay Ambit's, run by the control plane as objects arrive.
import { KINDS, type KindInfo } from './registry.js';
import { kindSchema, type Schema } from './kinds/schema.js';
import type { KubeObject } from './meta.js';

type OpenApi = Record<string, unknown>;

/** One Ambit schema node as an OpenAPI v3 structural-schema node. */
function toOpenApi(s: Schema): OpenApi {
  switch (s.type) {
    case 'string':
      return { type: 'string', ...(s.enum ? { enum: [...s.enum] } : {}), ...(s.maxLength !== undefined ? { maxLength: s.maxLength } : {}) };
    case 'integer':
      return { type: 'integer', ...(s.min !== undefined ? { minimum: s.min } : {}), ...(s.max !== undefined ? { maximum: s.max } : {}) };
    case 'number':
      return { type: 'number', ...(s.min !== undefined ? { minimum: s.min } : {}), ...(s.max !== undefined ? { maximum: s.max } : {}) };
    case 'boolean':
      return { type: 'boolean' };
    case 'int-or-string':
      return { 'x-kubernetes-int-or-string': true };
    case 'any':
      return { 'x-kubernetes-preserve-unknown-fields': true };
    case 'map':
      return { type: 'object', additionalProperties: toOpenApi(s.values) };
    case 'array':
      return {
        type: 'array', items: toOpenApi(s.items),
        ...(s.minItems !== undefined ? { minItems: s.minItems } : {}), ...(s.maxItems !== undefined ? { maxItems: s.maxItems } : {}),
      };
    case 'object': {
      const properties: Record<string, OpenApi> = {};
      for (const [k, v] of Object.entries(s.fields)) properties[k] = toOpenApi(v);
      const required = Object.entries(s.fields).filter(([, v]) => v.required).map(([k]) => k);
      return {
        type: 'object', properties,
        ...(required.length ? { required } : {}),
        ...(s.open ? { 'x-kubernetes-preserve-unknown-fields': true } : {}),
      };
    }
  }
}

/** kubectl categories, as Istio's charts set them (`kubectl get istio-io`). */
function categoriesOf(k: KindInfo): string[] {
  if (k.group.endsWith('istio.io')) return ['istio-io', `${k.group.split('.')[0]}-istio-io`];
  if (k.group === 'gateway.networking.k8s.io') return ['gateway-api'];
  return [];
}

/** The CRD of one non-core kind. */
function crdOf(k: KindInfo): KubeObject {
  const root = kindSchema(k.kind);
  const body = root ? (toOpenApi(root) as { properties: Record<string, OpenApi>; required?: string[] }) : { properties: {} };
  const schema = {
    type: 'object',
    properties: { apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { type: 'object' }, ...body.properties },
    ...(body.required?.length ? { required: body.required } : {}),
  };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${k.plural}.${k.group}`,
      labels: { 'app.kubernetes.io/part-of': 'ambit' },
      // *.k8s.io groups are protected: the API server refuses their CRDs without the approval that the Gateway API
      // project holds for its own group (the same link its official CRDs carry).
      ...(k.group.endsWith('.k8s.io') ? { annotations: { 'api-approved.kubernetes.io': 'https://github.com/kubernetes-sigs/gateway-api/pull/3328' } } : {}),
    },
    spec: {
      group: k.group,
      scope: k.namespaced ? 'Namespaced' : 'Cluster',
      names: { kind: k.kind, listKind: `${k.kind}List`, plural: k.plural, singular: k.singular, shortNames: [...k.shortNames], categories: categoriesOf(k) },
      // The first version is the one stored; every version serves the same schema (no conversion needed).
      versions: k.versions.map((v, i) => ({ name: v, served: true, storage: i === 0, schema: { openAPIV3Schema: schema }, subresources: { status: {} } })),
    },
  } as KubeObject;
}

/** CRDs for every kind outside the core group, in the registry's order. */
export function customResourceDefinitions(): KubeObject[] {
  return KINDS.filter((k) => k.group !== '').map(crdOf);
}
