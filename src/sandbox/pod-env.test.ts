// The container environment a sandbox pod gets, and Kubernetes' $(VAR) references in its command and args.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerEnvironment, expandEnvRefs } from './pod-runner.js';

test('$(VAR) takes the container\'s environment; unknown references stay; $$ escapes', () => {
  const env = containerEnvironment({ namespace: 'istio-system', name: 'ztunnel-x', ip: '10.244.1.2', node: 'node1' },
    { env: [{ name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }, { name: 'INSTANCE_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }] });
  assert.equal(expandEnvRefs('--node=$(NODE_NAME)', env), '--node=node1');
  assert.equal(expandEnvRefs('$(INSTANCE_IP):15020', env), '10.244.1.2:15020');
  assert.equal(expandEnvRefs('$(NOT_SET)', env), '$(NOT_SET)');
  assert.equal(expandEnvRefs('$$(NODE_NAME) costs $$5', env), '$(NODE_NAME) costs $5');
});
