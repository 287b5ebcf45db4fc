// The mesh config (ConfigMap istio, key mesh): extension providers parsed, other provider types kept as unsupported,
// and every mistake refused by field with its reason — at apply time for the ConfigMap itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMeshConfig } from './mesh-config.js';
import { validateObject } from './index.js';

test('extensionProviders: HTTP and gRPC authorizers and OTLP/HTTP tracers parsed', () => {
  const { providers, problems } = parseMeshConfig(`
defaultConfig: {}
extensionProviders:
- name: opa
  envoyExtAuthzHttp:
    service: opa.policy.svc.cluster.local
    port: 8181
    timeout: 500ms
    failOpen: true
    includeRequestHeadersInCheck: [authorization, "x-ext-*"]
    headersToUpstreamOnAllow: [x-user]
- name: grpc-authz
  envoyExtAuthzGrpc:
    service: authz.policy.svc.cluster.local
    port: 9000
- name: otel
  opentelemetry:
    service: otel.obs.svc.cluster.local
    port: 4318
    http: { path: /otlp/v1/traces, timeout: 5s, headers: [{ name: x-tenant, value: a }] }
- name: otel-grpc
  opentelemetry: { service: otel.obs, port: 4317 }
`);
  assert.deepEqual(problems, []);
  assert.deepEqual(providers, [
    { name: 'opa', envoyExtAuthzHttp: { service: 'opa.policy.svc.cluster.local', port: 8181, timeout: '500ms', failOpen: true, includeRequestHeadersInCheck: ['authorization', 'x-ext-*'], headersToUpstreamOnAllow: ['x-user'] } },
    { name: 'grpc-authz', envoyExtAuthzGrpc: { service: 'authz.policy.svc.cluster.local', port: 9000 } },
    { name: 'otel', opentelemetry: { service: 'otel.obs.svc.cluster.local', port: 4318, path: '/otlp/v1/traces', timeout: '5s', headers: { 'x-tenant': 'a' } } },
    { name: 'otel-grpc', unsupported: 'opentelemetry over OTLP/gRPC (set http: {path: /v1/traces} for OTLP/HTTP)' },
  ]);
  assert.deepEqual(parseMeshConfig(''), { providers: [], outboundTrafficMode: 'ALLOW_ANY', problems: [] });
});

test('mistakes are named by field', () => {
  const problems = parseMeshConfig(`
extensionProviders:
- name: a
  envoyExtAuthzHttp: { service: "", port: 70000, timeout: soon, statusOnError: 403, pathPrefix: check, bogus: 1 }
- name: a
  envoyExtAuthzHttp: { service: x, port: 1 }
- envoyExtAuthzHttp: { service: x, port: 1 }
- name: c
  envoyExtAuthzHttp: { service: x, port: 1 }
  zipkin: { service: z, port: 9411 }
- name: d
  telepathy: {}
`).problems;
  assert.deepEqual(problems, [
    'extensionProviders[0].envoyExtAuthzHttp.bogus: unknown field',
    'extensionProviders[0].envoyExtAuthzHttp.service: required (the authorizer\'s host, e.g. ext-authz.foo.svc.cluster.local)',
    'extensionProviders[0].envoyExtAuthzHttp.port: required, a port number',
    'extensionProviders[0].envoyExtAuthzHttp.timeout: expected a duration like 500ms or 1s',
    'extensionProviders[0].envoyExtAuthzHttp.statusOnError: expected an HTTP status code as a string, e.g. "503"',
    'extensionProviders[0].envoyExtAuthzHttp.pathPrefix: must start with /',
    'extensionProviders[2].name: required',
    'extensionProviders[3]: exactly one provider type is required, got envoyExtAuthzHttp, zipkin',
    'extensionProviders[4]: unknown provider type telepathy (known: envoyExtAuthzHttp, envoyExtAuthzGrpc, zipkin, datadog, stackdriver, opencensus, skywalking, opentelemetry, prometheus, envoyFileAccessLog, envoyHttpAls, envoyTcpAls, envoyOtelAls, sds, lightstep)',
  ]);
  assert.deepEqual(parseMeshConfig('extensionProviders: [').problems.length, 1);
});

test('the istio ConfigMap in the root namespace is refused with its mesh config\'s problems; other ConfigMaps are free-form', () => {
  const cm = (namespace: string, mesh: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'istio', namespace }, data: { mesh } });
  const bad = validateObject(cm('istio-system', 'extensionProviders:\n- name: x\n  envoyExtAuthzHttp: { port: 1 }\n'));
  assert.deepEqual(bad.ok ? [] : bad.errors, [
    'ConfigMap/istio-system/istio: data.mesh: extensionProviders[0].envoyExtAuthzHttp.service: required (the authorizer\'s host, e.g. ext-authz.foo.svc.cluster.local)',
  ]);
  assert.ok(validateObject(cm('default', 'not: [valid')).ok, 'only the root namespace\'s istio ConfigMap is a mesh config');
});

test('outboundTrafficPolicy.mode: ALLOW_ANY by default, REGISTRY_ONLY read, anything else a problem naming the field', () => {
  assert.equal(parseMeshConfig('defaultConfig: {}').outboundTrafficMode, 'ALLOW_ANY');
  assert.equal(parseMeshConfig('outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n').outboundTrafficMode, 'REGISTRY_ONLY');
  const bad = parseMeshConfig('outboundTrafficPolicy:\n  mode: registry_only\n');
  assert.equal(bad.outboundTrafficMode, 'ALLOW_ANY');
  assert.deepEqual(bad.problems, ['outboundTrafficPolicy.mode: expected ALLOW_ANY or REGISTRY_ONLY, got "registry_only"']);
  assert.deepEqual(parseMeshConfig('outboundTrafficPolicy: strict').problems, ['outboundTrafficPolicy: expected a mapping with a mode']);
});
