// A sandbox node's own files: hostPath volumes and CNI dirs map under the node's root (/var/run is /run), except the
// machine-wide netns directory; the mount scripts bind what they should where they should.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inNodeRunView, nodeHostPath, withPodRun } from './node-files.js';

test('hostPath volumes are the node\'s own files; /var/run/netns is the machine\'s', () => {
  assert.equal(nodeHostPath('/d', 'node1', '/etc/cni/net.d'), '/d/nodes/node1/root/etc/cni/net.d');
  assert.equal(nodeHostPath('/d', 'node2', '/var/run/ztunnel/'), '/d/nodes/node2/root/run/ztunnel');
  assert.equal(nodeHostPath('/d', 'node2', '/run/ztunnel'), '/d/nodes/node2/root/run/ztunnel');
  assert.equal(nodeHostPath('/d', 'node1', '/var/run/netns'), '/run/netns');
  assert.equal(nodeHostPath('/d', 'node1', '/run/netns/pod-a'), '/run/netns/pod-a');
  assert.equal(nodeHostPath('/d', 'node1', '/var/runner'), '/d/nodes/node1/root/var/runner');
});

test('a container\'s /run is assembled off to the side, read-only unless writable, then bound over /run', () => {
  const argv = withPodRun(['node', 'x.js'], '/d/pods/p/run', [
    { source: '/run/netns', target: '/var/run/netns', writable: true },
    { source: '/d/pods/p/volumes/token', target: '/var/run/secrets/tokens', writable: false },
  ]);
  assert.deepEqual(argv.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(argv.slice(3), ['sh', 'node', 'x.js']);
  const script = argv[2]!.split('\n');
  assert.deepEqual(script, [
    'set -e',
    "mkdir -p '/d/pods/p/run'",
    "mount -t tmpfs -o mode=0755 ambit-pod-run '/d/pods/p/run'",
    "mkdir -p '/d/pods/p/run/netns'",
    "mount --rbind '/run/netns' '/d/pods/p/run/netns'",
    "mkdir -p '/d/pods/p/run/secrets/tokens'",
    "mount --rbind '/d/pods/p/volumes/token' '/d/pods/p/run/secrets/tokens'",
    "mount -o remount,bind,ro '/d/pods/p/run/secrets/tokens'",
    "mount --rbind '/d/pods/p/run' /run",
    'exec "$@"',
  ]);
});

test('CNI plugins see their node\'s /run with the machine\'s netns inside', () => {
  const script = inNodeRunView('/d', 'node1', ['/bin/true'])[2]!;
  assert.match(script, /mount --rbind \/run\/netns '\/d\/nodes\/node1\/root\/run\/netns'\nmount --rbind '\/d\/nodes\/node1\/root\/run' \/run\nexec "\$@"$/);
});
