// Enrolment and why, the PeerAuthentication mode a workload ends up with, and the config validation list.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../../api/meta.js';
import { namespaceEnrolment, podEnrolment } from './enrolment.js';
import { workloadMtlsMode } from './peer-authentication.js';
import { buildValidationView } from './validation-model.js';

const obj = (kind: string, namespace: string, name: string, more: Partial<KubeObject> = {}): KubeObject =>
  ({ apiVersion: 'v1', kind, metadata: { name, namespace, ...(more.metadata ?? {}) }, ...(more.spec ? { spec: more.spec } : {}), ...(more.status ? { status: more.status } : {}) });

test('enrolment: pod label beats namespace label, waypoints are never captured, and the reason says so', () => {
  const ambientNs = obj('Namespace', '', 'demo', { metadata: { name: 'demo', labels: { 'istio.io/dataplane-mode': 'ambient' } } });
  const plainNs = obj('Namespace', '', 'legacy');
  assert.deepEqual(podEnrolment(obj('Pod', 'demo', 'a'), ambientNs), { enrolled: true, why: 'namespace demo label istio.io/dataplane-mode=ambient', capture: 'pending (the node agent has not captured it yet)' });
  assert.deepEqual(podEnrolment(obj('Pod', 'demo', 'b', { metadata: { name: 'b', labels: { 'istio.io/dataplane-mode': 'none' } } }), ambientNs), { enrolled: false, why: 'pod label istio.io/dataplane-mode=none' });
  assert.equal(podEnrolment(obj('Pod', 'legacy', 'c', { metadata: { name: 'c', labels: { 'istio.io/dataplane-mode': 'ambient' }, annotations: { 'ambient.istio.io/redirection': 'enabled' } } }), plainNs).capture, 'enabled');
  assert.match(podEnrolment(obj('Pod', 'legacy', 'd'), plainNs).why, /no istio\.io\/dataplane-mode label on the pod or namespace legacy/);
  assert.match(podEnrolment(obj('Pod', 'demo', 'wp', { metadata: { name: 'wp', labels: { 'gateway.istio.io/managed': 'x' } } }), ambientNs).why, /never captured/);
  assert.equal(namespaceEnrolment(plainNs).enrolled, false);
});

test('workloadMtlsMode: workload policy > namespace > root namespace > PERMISSIVE; UNSET inherits', () => {
  const pa = (namespace: string, name: string, spec: object) => obj('PeerAuthentication', namespace, name, { spec: spec as KubeObject['spec'] });
  const pas = [
    pa('istio-system', 'mesh', { mtls: { mode: 'STRICT' } }),
    pa('demo', 'ns-wide', { mtls: { mode: 'PERMISSIVE' } }),
    pa('demo', 'db', { selector: { matchLabels: { app: 'db' } }, mtls: { mode: 'UNSET' }, portLevelMtls: { 5432: { mode: 'DISABLE' } } }),
  ];
  assert.deepEqual(workloadMtlsMode(pas, 'demo', { app: 'web' }), { mode: 'PERMISSIVE', from: 'demo/ns-wide' });
  assert.deepEqual(workloadMtlsMode(pas, 'demo', { app: 'db' }), { mode: 'PERMISSIVE', from: 'demo/ns-wide', portLevel: { 5432: 'DISABLE' } });
  assert.deepEqual(workloadMtlsMode(pas, 'other', {}), { mode: 'STRICT', from: 'istio-system/mesh' });
  assert.deepEqual(workloadMtlsMode([], 'other', {}), { mode: 'PERMISSIVE', from: 'default' });
});

test('buildValidationView: FieldsIgnored and False conditions are listed, True ones are not', () => {
  const items = buildValidationView([
    obj('AuthorizationPolicy', 'demo', 'ok', { status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '' }] } }),
    obj('AuthorizationPolicy', 'demo', 'custom', { status: { conditions: [{ type: 'Accepted', status: 'False', reason: 'UnsupportedValue', message: 'no provider x' }] } }),
    obj('HTTPRoute', 'demo', 'r', { status: { conditions: [{ type: 'FieldsIgnored', status: 'True', reason: 'UnsupportedField', message: 'spec.x: not enforced' }] } }),
  ]);
  assert.deepEqual(items.map((i) => [i.kind, i.name, i.severity, i.message]), [
    ['AuthorizationPolicy', 'custom', 'warning', 'no provider x'],
    ['HTTPRoute', 'r', 'ignored-fields', 'spec.x: not enforced'],
  ]);
});
