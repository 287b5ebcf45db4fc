// The API server's CONNECT requests into the sandbox: only this cluster's node and pod addresses are dialled; any
// other target, or a request that is not `CONNECT <ip>:<port>`, is refused with the status and reason it gets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clusterLayout } from '../cluster-layout.js';
import { egressPrefixes, parseConnectHead } from './cluster-egress.js';

const layout = clusterLayout('egress', 0, 2);
const allowed = egressPrefixes(layout);
const head = (line: string) => `${line}\r\nHost: 127.0.0.1\r\n`;

test('CONNECT to a node (its kubelet) or a pod of this cluster is allowed', () => {
  const node = layout.nodes[1]!;
  assert.deepEqual(parseConnectHead(head(`CONNECT ${node.ip}:10250 HTTP/1.1`), allowed), { host: node.ip, port: 10250 });
  const podIp = node.podCidr.replace(/0\/24$/, '7');
  assert.deepEqual(parseConnectHead(head(`CONNECT ${podIp}:15000 HTTP/1.1`), allowed), { host: podIp, port: 15000 });
});

test('anything else is refused with its reason', () => {
  assert.deepEqual(parseConnectHead(head('CONNECT 127.0.0.1:22 HTTP/1.1'), allowed), { status: 403, reason: "127.0.0.1 is not an address of this cluster's nodes or pods" });
  assert.deepEqual(parseConnectHead(head('CONNECT 8.8.8.8:443 HTTP/1.1'), allowed), { status: 403, reason: "8.8.8.8 is not an address of this cluster's nodes or pods" });
  assert.equal((parseConnectHead(head('CONNECT node1:10250 HTTP/1.1'), allowed) as { status: number }).status, 400, 'names are not resolved');
  assert.equal((parseConnectHead(head('GET / HTTP/1.1'), allowed) as { status: number }).status, 400);
  assert.equal((parseConnectHead(head(`CONNECT ${layout.nodes[0]!.ip}:99999 HTTP/1.1`), allowed) as { status: number }).status, 400);
});
