// Unit tests: a pod's plaintext policy from PeerAuthentications (inheritance, selectors, port-level overrides).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { KubeObject } from '../api/index.js';
import { plaintextPolicy } from './plaintext-policy.js';

function pa(namespace: string, name: string, spec: Record<string, unknown>, created = '2026-01-01T00:00:00Z'): KubeObject {
  return { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace, creationTimestamp: created }, spec } as KubeObject;
}

const APP = { app: 'server' };

test('without any PeerAuthentication plaintext is accepted (PERMISSIVE)', () => {
  assert.deepEqual(plaintextPolicy('mesh', APP, []), { strict: false, exceptPorts: [] });
});

test('namespace mode wins over the mesh-wide one; UNSET inherits; DISABLE counts as PERMISSIVE', () => {
  const meshStrict = pa('istio-system', 'default', { mtls: { mode: 'STRICT' } });
  assert.deepEqual(plaintextPolicy('mesh', APP, [meshStrict]), { strict: true, exceptPorts: [] });
  assert.deepEqual(plaintextPolicy('mesh', APP, [meshStrict, pa('mesh', 'ns', { mtls: { mode: 'DISABLE' } })]), { strict: false, exceptPorts: [] });
  assert.deepEqual(plaintextPolicy('mesh', APP, [meshStrict, pa('mesh', 'ns', { mtls: { mode: 'UNSET' } })]), { strict: true, exceptPorts: [] });
  assert.deepEqual(plaintextPolicy('other', APP, [pa('mesh', 'ns', { mtls: { mode: 'STRICT' } })]), { strict: false, exceptPorts: [] }, 'another namespace is not affected');
});

test('the oldest namespace-wide PeerAuthentication applies', () => {
  const older = pa('mesh', 'b', { mtls: { mode: 'STRICT' } }, '2026-01-01T00:00:00Z');
  const newer = pa('mesh', 'a', { mtls: { mode: 'PERMISSIVE' } }, '2026-02-01T00:00:00Z');
  assert.deepEqual(plaintextPolicy('mesh', APP, [newer, older]), { strict: true, exceptPorts: [] });
});

test('a selecting PeerAuthentication overrides, with port-level exceptions in both directions', () => {
  const nsStrict = pa('mesh', 'ns', { mtls: { mode: 'STRICT' } });
  const permissivePort = pa('mesh', 'wl', { selector: { matchLabels: APP }, portLevelMtls: { '8080': { mode: 'PERMISSIVE' }, '9090': { mode: 'STRICT' }, x: { mode: 'PERMISSIVE' } } });
  assert.deepEqual(plaintextPolicy('mesh', APP, [nsStrict, permissivePort]), { strict: true, exceptPorts: [8080] }, 'UNSET inherits STRICT; 8080 is PERMISSIVE');
  assert.deepEqual(plaintextPolicy('mesh', { app: 'other' }, [nsStrict, permissivePort]), { strict: true, exceptPorts: [] }, 'not selected');
  const strictPorts = pa('mesh', 'wl', { selector: { matchLabels: APP }, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { '9090': { mode: 'STRICT' }, '7070': { mode: 'STRICT' } } });
  assert.deepEqual(plaintextPolicy('mesh', APP, [nsStrict, strictPorts]), { strict: false, exceptPorts: [7070, 9090] });
});

test('selector PeerAuthentications of the root namespace select nothing', () => {
  const rootSelector = pa('istio-system', 'wl', { selector: { matchLabels: APP }, mtls: { mode: 'STRICT' } });
  assert.deepEqual(plaintextPolicy('mesh', APP, [rootSelector]), { strict: false, exceptPorts: [] });
  assert.deepEqual(plaintextPolicy('istio-system', APP, [rootSelector]), { strict: false, exceptPorts: [] });
});
