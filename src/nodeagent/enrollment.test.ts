// Unit tests of enrolment: pod label wins over namespace label; waypoints, finished and IP-less pods are exempt.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/index.js';
import { isEnrolled, viewPod } from './enrollment.js';
import { POD_NETNS_ANNOTATION } from '../lib/mesh-contract.js';

function pod(labels: Record<string, string> = {}, extra: Partial<KubeObject> = {}): KubeObject {
  return {
    apiVersion: 'v1', kind: 'Pod',
    metadata: { name: 'p', namespace: 'ns', uid: 'u1', labels, annotations: { [POD_NETNS_ANNOTATION]: 'c.ns.p' } },
    spec: { nodeName: 'node1', containers: [] },
    status: { phase: 'Running', podIP: '10.244.1.2' },
    ...extra,
  };
}
const ns = (labels: Record<string, string> = {}): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns', labels } });
const MODE = 'istio.io/dataplane-mode';

test('namespace label enrols; pod label overrides either way', () => {
  assert.equal(isEnrolled(pod(), ns({ [MODE]: 'ambient' })), true);
  assert.equal(isEnrolled(pod(), ns()), false);
  assert.equal(isEnrolled(pod(), undefined), false);
  assert.equal(isEnrolled(pod({ [MODE]: 'none' }), ns({ [MODE]: 'ambient' })), false);
  assert.equal(isEnrolled(pod({ [MODE]: 'ambient' }), ns()), true);
});

test('waypoints, finished pods and pods without an IP are never captured', () => {
  const amb = ns({ [MODE]: 'ambient' });
  assert.equal(isEnrolled(pod({ 'gateway.istio.io/managed': 'istio.io-mesh-controller' }), amb), false);
  assert.equal(isEnrolled(pod({}, { status: { phase: 'Succeeded', podIP: '10.244.1.2' } }), amb), false);
  assert.equal(isEnrolled(pod({}, { status: { phase: 'Pending' } }), amb), false);
});

test('viewPod: only pods of this node, with netns, service account default', () => {
  const v = viewPod(pod(), ns({ [MODE]: 'ambient' }), 'node1');
  assert.deepEqual(v, { uid: 'u1', namespace: 'ns', name: 'p', serviceAccount: 'default', netns: 'c.ns.p', enrolled: true, redirection: undefined });
  assert.equal(viewPod(pod(), ns(), 'node2'), undefined);
});
