// e2e (root): ztunnel's DNS proxy in the sandbox. In an enrolled namespace a pod's DNS traffic to the nameserver
// of its resolv.conf is redirected by the pod's nft rules to ztunnel's 127.0.0.1:15053 in the pod's netns: Node's
// own resolver (c-ares, reading the pod's resolv.conf with its search list) resolves the short service name to the
// Service VIP with TTL 30, a hand-made UDP and a TCP query for the full name get the same, AAAA is NOERROR/empty,
// and an unknown name gets SERVFAIL (the sandbox has no upstream nameserver) or NXDOMAIN; the node's ztunnel
// counts the queries in istio_dns_requests_total. A ServiceEntry host without addresses gets a VIP from
// 240.240.0.0/16 in its status, the DNS proxy answers the name with it, and TCP to the name reaches the entry's
// endpoint (a pod outside the mesh). Bounded to 90 s.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { SandboxFixture } from '../../src/sandbox/testing/sandbox-fixture.js';
import { runCommand } from '../../src/platform/index.js';

/**
 * CommonJS source; run as `node dns-tool.cjs <mode> NAME [TYPE]`, prints one JSON line:
 * - `resolve4 NAME`: Node's c-ares resolver with the pod's resolv.conf (search list included) → {ok, records|code}.
 * - `udp NAME TYPE` / `tcp NAME TYPE`: one query to the resolv.conf nameserver on port 53 → {rcode, tc, answers}.
 */
const DNS_TOOL_SOURCE = String.raw`
const dgram = require('dgram');
const net = require('net');
const fs = require('fs');
const dns = require('dns');
const [mode, name, typeText] = process.argv.slice(2);
const out = (o) => { process.stdout.write(JSON.stringify(o) + '\n'); process.exit(0); };
setTimeout(() => out({ error: 'timeout' }), 8000);
const ns = (/^nameserver\s+(\S+)/m.exec(fs.readFileSync('/etc/resolv.conf', 'utf8')) || [])[1];
const type = typeText === 'AAAA' ? 28 : 1;
function encode(id) {
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([Buffer.from([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), ...labels, Buffer.from([0, 0, type, 0, 1])]);
}
function skipName(b, o) {
  for (;;) { const l = b[o]; if (l === 0) return o + 1; if ((l & 0xc0) === 0xc0) return o + 2; o += l + 1; }
}
function decode(b, id) {
  if (b.readUInt16BE(0) !== id) return { error: 'id mismatch' };
  const flags = b.readUInt16BE(2);
  const an = b.readUInt16BE(6);
  let o = skipName(b, 12) + 4;
  const answers = [];
  for (let i = 0; i < an; i++) {
    o = skipName(b, o);
    const t = b.readUInt16BE(o), ttl = b.readUInt32BE(o + 4), len = b.readUInt16BE(o + 8);
    const d = b.subarray(o + 10, o + 10 + len);
    answers.push({ type: t, ttl, data: t === 1 ? [...d].join('.') : d.toString('hex') });
    o += 10 + len;
  }
  return { rcode: flags & 15, tc: (flags & 0x200) !== 0, aa: (flags & 0x400) !== 0, answers, nameserver: ns };
}
const id = Math.floor(Math.random() * 65536);
if (mode === 'resolve4') {
  new dns.promises.Resolver().resolve4(name, { ttl: true })
    .then((records) => out({ ok: true, records }), (e) => out({ ok: false, code: e.code }));
} else if (mode === 'udp') {
  const s = dgram.createSocket('udp4');
  s.on('message', (m) => out(decode(m, id)));
  s.on('error', (e) => out({ error: e.code || e.message }));
  s.send(encode(id), 53, ns);
} else if (mode === 'tcp') {
  const s = net.connect(53, ns);
  let buf = Buffer.alloc(0);
  s.on('error', (e) => out({ error: e.code || e.message }));
  s.on('connect', () => { const q = encode(id); const len = Buffer.alloc(2); len.writeUInt16BE(q.length); s.write(Buffer.concat([len, q])); });
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) out(decode(buf.subarray(2, 2 + buf.readUInt16BE(0)), id));
  });
} else if (mode === 'connect') {
  // TCP to NAME:PORT through the system resolver (getaddrinfo, the pod's resolv.conf); prints what the server sent.
  const s = net.connect(Number(typeText), name);
  let got = '';
  s.on('error', (e) => out({ error: e.code || e.message }));
  s.on('data', (d) => { got += d; });
  s.on('end', () => out({ ok: true, data: got, remote: s.remoteAddress }));
} else {
  out({ error: 'unknown mode ' + mode });
}
`;

const NS = 'dnsmesh';

interface QueryResult {
  rcode?: number;
  tc?: boolean;
  aa?: boolean;
  answers?: Array<{ type: number; ttl: number; data: string }>;
  nameserver?: string;
  ok?: boolean;
  records?: Array<{ address: string; ttl: number }>;
  code?: string;
  error?: string;
  data?: string;
  remote?: string;
}

test('an enrolled pod resolves mesh service names through ztunnel\'s DNS proxy', { timeout: 90_000 }, async (t) => {
  const fx = await SandboxFixture.create(t, 1);
  const tool = join(fx.dataDir, '..', 'dns-tool.cjs');
  writeFileSync(tool, DNS_TOOL_SOURCE);
  const pod = (name: string, labels: Record<string, string>) => ({
    apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: NS, labels },
    spec: { nodeName: 'node1', containers: [{ name: 'app', command: ['sleep', 'infinity'] }] },
  });
  await fx.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS, labels: { 'istio.io/dataplane-mode': 'ambient' } } },
    pod('server', { app: 'echo' }),
    pod('client', { app: 'client' }),
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'echo', namespace: NS }, spec: { selector: { app: 'echo' }, ports: [{ port: 80, targetPort: 8080 }] } },
  ]);
  await fx.running(NS, 'client');
  const vip = await fx.waitFor('echo VIP', async () => {
    const s = JSON.parse((await fx.cli(['get', 'service', 'echo', '-n', NS, '-o', 'json'])).stdout) as { spec: { clusterIP?: string } };
    return s.spec.clusterIP;
  });
  const run = async (...args: string[]): Promise<QueryResult> => {
    const r = await fx.cli(['exec', 'client', '-n', NS, '--', process.execPath, tool, ...args], { allowFail: true, timeoutMs: 15_000 });
    const line = r.stdout.split('\n').find((l) => l.startsWith('{'));
    return line ? (JSON.parse(line) as QueryResult) : { error: `exit ${r.code}: ${r.stderr.trim().split('\n').pop() ?? ''}` };
  };

  // The pod is captured once the node agent handed it to ztunnel and ztunnel learned the Service over xDS.
  const full = `echo.${NS}.svc.cluster.local`;
  const first = await fx.waitFor('the DNS proxy answers with the VIP', async () => {
    const r = await run('udp', full, 'A');
    return r.answers?.some((a) => a.data === vip) ? r : undefined;
  }, 30_000, 500);
  assert.equal(first.rcode, 0);
  assert.equal(first.aa, true, 'answered by the mesh proxy, not forwarded');
  assert.deepEqual(first.answers, [{ type: 1, ttl: 30, data: vip }]);

  const viaCares = await run('resolve4', 'echo');
  assert.deepEqual(viaCares, { ok: true, records: [{ address: vip, ttl: 30 }] }, "Node's resolver, search list from the pod's resolv.conf");
  const tcp = await run('tcp', full, 'A');
  assert.deepEqual(tcp.answers, [{ type: 1, ttl: 30, data: vip }], 'TCP port 53 is captured too');
  const aaaa = await run('udp', full, 'AAAA');
  assert.equal(aaaa.rcode, 0);
  assert.deepEqual(aaaa.answers, [], 'known name without IPv6: NOERROR, empty');
  const asked = Date.now();
  const unknown = await run('udp', `no-such-service.${NS}.svc.cluster.local`, 'A');
  t.diagnostic(`unknown name: rcode ${unknown.rcode} after ${Date.now() - asked} ms (including the exec)`);
  assert.ok(unknown.rcode === 2 || unknown.rcode === 3, `unknown name: SERVFAIL or NXDOMAIN, got ${JSON.stringify(unknown)}`);

  const stats = await runCommand(['ip', 'netns', 'exec', `${fx.name}.node1`, process.execPath, '-e',
    "require('http').get('http://127.0.0.1:15020/stats/prometheus',r=>{let b='';r.on('data',d=>b+=d);r.on('end',()=>process.stdout.write(b))})"], { timeoutMs: 10_000 });
  const count = (proto: string) => stats.stdout.split('\n').filter((l) => l.startsWith('istio_dns_requests_total{') && l.includes(`request_protocol="${proto}"`))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  assert.ok(count('udp') >= 4, `UDP queries counted (${count('udp')})`);
  assert.ok(count('tcp') >= 1, `TCP queries counted (${count('tcp')})`);

  // A ServiceEntry for an outside host: no addresses, so the control plane allocates one into status.addresses.
  await fx.apply([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'outside' } },
    {
      apiVersion: 'v1', kind: 'Pod', metadata: { name: 'api', namespace: 'outside', labels: { app: 'api' } },
      spec: { nodeName: 'node1', containers: [{ name: 'app', command: [process.execPath, '-e', "require('net').createServer((s) => s.end('hello from api')).listen(8080)"] }] },
    },
  ]);
  await fx.running('outside', 'api');
  const apiIp = await fx.waitFor('api pod IP', async () => {
    const p = JSON.parse((await fx.cli(['get', 'pod', 'api', '-n', 'outside', '-o', 'json'])).stdout) as { status?: { podIP?: string } };
    return p.status?.podIP;
  });
  await fx.apply([{
    apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: { name: 'api-example', namespace: NS },
    spec: {
      hosts: ['api.example.test'], location: 'MESH_EXTERNAL', resolution: 'STATIC',
      ports: [{ number: 80, name: 'tcp', protocol: 'TCP', targetPort: 8080 }], endpoints: [{ address: apiIp }],
    },
  }]);
  const allocated = await fx.waitFor('status.addresses of the ServiceEntry', async () => {
    const o = JSON.parse((await fx.cli(['get', 'serviceentry', 'api-example', '-n', NS, '-o', 'json'])).stdout) as { status?: { addresses?: Array<{ value: string; host: string }> } };
    return o.status?.addresses?.[0];
  });
  assert.equal(allocated.host, 'api.example.test');
  assert.match(allocated.value, /^240\.240\.\d+\.\d+$/);
  const seAnswer = await fx.waitFor('the DNS proxy answers the ServiceEntry host', async () => {
    const r = await run('udp', 'api.example.test', 'A');
    return r.answers?.some((a) => a.data === allocated.value) ? r : undefined;
  }, 30_000, 500);
  assert.equal(seAnswer.aa, true);
  assert.deepEqual(seAnswer.answers, [{ type: 1, ttl: 30, data: allocated.value }]);
  const reply = await run('connect', 'api.example.test', '80');
  assert.deepEqual(reply, { ok: true, data: 'hello from api', remote: allocated.value }, 'TCP to the name goes to the VIP and ztunnel sends it to the endpoint');
});
