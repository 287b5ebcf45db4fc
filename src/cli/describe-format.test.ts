// Unit tests for the describe rendering.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeObject } from './describe-format.js';

test('describe renders header fields, metadata, spec as YAML, a conditions table and events', () => {
  const text = describeObject({
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: {
      name: 'deny-all',
      namespace: 'demo',
      labels: { b: '2', a: '1' },
      uid: 'u-1',
      resourceVersion: '9',
      generation: 2,
      creationTimestamp: '2024-05-01T11:59:55Z',
    },
    spec: { action: 'DENY', rules: [{ from: [{ source: { namespaces: ['x'] } }] }] },
    status: { conditions: [{ type: 'FieldsIgnored', status: 'True', reason: 'UnsupportedField', message: 'spec.rules[0].when: not supported yet' }] },
  });
  const want = [
    'Name:         deny-all',
    'Namespace:    demo',
    'Labels:       a=1',
    '              b=2',
    'Annotations:  <none>',
    'API Version:  security.istio.io/v1',
    'Kind:         AuthorizationPolicy',
    'Metadata:',
    '  Creation Timestamp:  2024-05-01T11:59:55Z',
    '  Generation:          2',
    '  Resource Version:    9',
    '  UID:                 u-1',
    'Spec:',
    '  action: DENY',
    '  rules:',
    '    - from:',
    '        - source:',
    '            namespaces:',
    '              - x',
    'Status:',
    '  Conditions:',
    '    Type           Status  Reason            Message',
    '    ----           ------  ------            -------',
    '    FieldsIgnored  True    UnsupportedField  spec.rules[0].when: not supported yet',
    'Events:  <none>',
    '',
  ].join('\n');
  assert.equal(text, want);
});

test('a cluster-scoped object without spec or status prints no Namespace, Spec or Status', () => {
  const text = describeObject({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'demo' } });
  assert.equal(text, 'Name:         demo\nLabels:       <none>\nAnnotations:  <none>\nAPI Version:  v1\nKind:         Namespace\nEvents:  <none>\n');
});
