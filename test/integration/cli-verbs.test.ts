// The CLI verbs end to end through the real binary and a real control plane: apply outcomes and partial failures,
// delete, label, get's formats/selectors/short names/watch, describe's conditions, version, and every error path
// (no control plane, unknown verb/flag/kind) ending in one clear `error:` line, never a stack trace.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runAmbit, startControlPlane, lines, MAIN } from './helpers/cli-harness.js';
import { parseManifests, validateObject } from '../../src/api/index.js';

const run = runAmbit;

const NS_AND_POD = `
apiVersion: v1
kind: Pod
metadata: { name: web, namespace: t1, labels: { app: web } }
spec:
  containers: [{ name: web, command: [node, -e, "setInterval(() => {}, 1000)"] }]
---
apiVersion: v1
kind: Namespace
metadata: { name: t1 }
`;

test('the CLI against a live control plane', { timeout: 240_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ambit-cli-verbs-'));
  const cp = await startControlPlane(dataDir);
  t.after(async () => {
    if (cp.exitCode === null && cp.signalCode === null) {
      cp.kill('SIGKILL');
      await new Promise((r) => cp.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  const file = (name: string, text: string): string => {
    const p = join(dataDir, name);
    writeFileSync(p, text);
    return p;
  };

  await t.test('apply: created, then configured, then unchanged; namespaces go first', async () => {
    const f = file('t1.yaml', NS_AND_POD);
    const r1 = await run(dataDir, ['apply', '-f', f]);
    assert.equal(r1.stderr, '');
    assert.equal(r1.code, 0);
    assert.deepEqual(lines(r1.stdout), ['namespace/t1 created', 'pod/web created']);
    const r2 = await run(dataDir, ['apply', '-f', f]);
    assert.deepEqual(lines(r2.stdout), ['namespace/t1 unchanged', 'pod/web unchanged']);
    file('t1.yaml', NS_AND_POD.replace('labels: { app: web }', 'labels: { app: web, tier: front }'));
    const r3 = await run(dataDir, ['apply', '-f', f]);
    assert.deepEqual(lines(r3.stdout), ['namespace/t1 unchanged', 'pod/web configured']);
    const r4 = await run(dataDir, ['apply', '-f', '-'], { stdin: NS_AND_POD.replace('labels: { app: web }', 'labels: { app: web, tier: front }') });
    assert.deepEqual(lines(r4.stdout), ['namespace/t1 unchanged', 'pod/web unchanged']);
  });

  await t.test('apply: a valid and an invalid object; the valid one is stored, the invalid one reported, exit 1', async () => {
    const bad = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'bad', namespace: 't1' }, spec: { containers: [] } };
    const text = `apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: good, namespace: t1 }\n---\n${JSON.stringify(bad)}\n`;
    const expected = validateObject(bad);
    assert.equal(expected.ok, false);
    const r = await run(dataDir, ['apply', '-f', file('mixed.yaml', text)]);
    assert.equal(r.code, 1);
    assert.deepEqual(lines(r.stdout), ['serviceaccount/good created']);
    assert.deepEqual(lines(r.stderr), (expected as { errors: string[] }).errors.map((l) => `error: ${l}`));
    assert.equal((await run(dataDir, ['get', 'sa', 'good', '-n', 't1', '-o', 'name'])).stdout, 'serviceaccount/good\n');
    const missing = await run(dataDir, ['get', 'pod', 'bad', '-n', 't1']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'error: pods "bad" not found\n');
  });

  await t.test('apply: a document that does not parse is reported with its source; -n mismatch refused', async () => {
    const broken = file('broken.yaml', 'apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: x\n');
    const r = await run(dataDir, ['apply', '-f', broken]);
    assert.equal(r.code, 1);
    const parsed = parseManifests('apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: x\n', broken);
    assert.deepEqual(lines(r.stderr), parsed.errors.map((e) => `error: ${e}`));
    const mismatch = await run(dataDir, ['apply', '-n', 'other', '-f', file('t1b.yaml', NS_AND_POD)]);
    assert.equal(mismatch.code, 1);
    assert.match(mismatch.stderr, /^error: the namespace from the provided object "t1" does not match the namespace "other"\./m);
    const nofile = await run(dataDir, ['apply', '-f', join(dataDir, 'nope.yaml')]);
    assert.equal(nofile.code, 1);
    assert.equal(nofile.stderr, `error: the path "${join(dataDir, 'nope.yaml')}" does not exist\n`);
  });

  await t.test('label: refuses to overwrite without --overwrite, labels, unlabels', async () => {
    const refuse = await run(dataDir, ['label', 'pod', 'web', 'app=api', '-n', 't1']);
    assert.equal(refuse.code, 1);
    assert.equal(refuse.stderr, "error: 'app' already has a value (web), and --overwrite is false\n");
    const ok = await run(dataDir, ['label', 'pod', 'web', 'app=api', '--overwrite', '-n', 't1']);
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, 'pod/web labeled\n');
    const add = await run(dataDir, ['label', 'po/web', 'extra=1', '-n', 't1']);
    assert.equal(add.stdout, 'pod/web labeled\n');
    const rm = await run(dataDir, ['label', 'pods', 'web', 'extra-', '-n', 't1']);
    assert.equal(rm.stdout, 'pod/web unlabeled\n');
    const json = JSON.parse((await run(dataDir, ['get', 'pod', 'web', '-n', 't1', '-o', 'json'])).stdout) as { metadata: { labels: Record<string, string> } };
    assert.deepEqual(json.metadata.labels, { app: 'api', tier: 'front' });
    const nsLabel = await run(dataDir, ['label', 'ns', 't1', 'istio.io/dataplane-mode=ambient']);
    assert.equal(nsLabel.stdout, 'namespace/t1 labeled\n');
  });

  await t.test('get: selectors, -A, output formats, short names, comma lists, unknown kinds, empty lists', async () => {
    await run(dataDir, ['apply', '-f', '-'], {
      stdin: `apiVersion: v1\nkind: Service\nmetadata: { name: web, namespace: t1 }\nspec: { selector: { app: api }, ports: [{ port: 80 }] }\n`,
    });
    const sel = await run(dataDir, ['get', 'po', '-n', 't1', '-l', 'app=api']);
    assert.match(lines(sel.stdout)[0]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE$/);
    assert.match(lines(sel.stdout)[1]!, /^web\s+0\/1\s+Pending\s+0\s+\d+s$/);
    const none = await run(dataDir, ['get', 'pods', '-n', 't1', '-l', 'app=nothing']);
    assert.equal(none.stdout, '');
    assert.equal(none.stderr, 'No resources found in t1 namespace.\n');
    assert.equal(none.code, 0);

    const all = await run(dataDir, ['get', 'sa', '-A']);
    assert.match(lines(all.stdout)[0]!, /^NAMESPACE\s+NAME\s+AGE$/);
    assert.ok(lines(all.stdout).some((l) => /^t1\s+good\s+/.test(l)));

    const wide = await run(dataDir, ['get', 'pods', '-n', 't1', '-o', 'wide']);
    assert.match(lines(wide.stdout)[0]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE$/);

    const names = await run(dataDir, ['get', 'svc,po', '-n', 't1', '-o', 'name']);
    assert.deepEqual(lines(names.stdout), ['service/web', 'pod/web']);
    const both = await run(dataDir, ['get', 'svc,po', '-n', 't1']);
    const tables = both.stdout.split('\n\n');
    assert.equal(tables.length, 2);
    assert.match(tables[0]!, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE\nservice\/web\s+ClusterIP\s+\S+\s+<none>\s+80\/TCP\s+\d+s$/);
    assert.match(tables[1]!, /^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\npod\/web\s+/);

    const one = JSON.parse((await run(dataDir, ['get', 'pod', 'web', '-n', 't1', '-o', 'json'])).stdout) as { kind: string };
    assert.equal(one.kind, 'Pod');
    const listJson = JSON.parse((await run(dataDir, ['get', 'pods', '-n', 't1', '-o', 'json'])).stdout) as { kind: string; items: unknown[] };
    assert.equal(listJson.kind, 'List');
    assert.equal(listJson.items.length, 1);
    const yamlOne = parseYaml((await run(dataDir, ['get', 'services', 'web', '-n', 't1', '-o', 'yaml'])).stdout) as { kind: string; spec: { ports: Array<{ port: number }> } };
    assert.equal(yamlOne.kind, 'Service');
    assert.equal(yamlOne.spec.ports[0]!.port, 80);

    const ns = await run(dataDir, ['get', 'ns', 't1']);
    assert.match(lines(ns.stdout)[1]!, /^t1\s+Active\s+\d+s$/);

    const bogus = await run(dataDir, ['get', 'bogus']);
    assert.equal(bogus.code, 1);
    assert.equal(bogus.stderr, 'error: the server doesn\'t have a resource type "bogus"\n');
    const badOut = await run(dataDir, ['get', 'pods', '-o', 'xml']);
    assert.equal(badOut.code, 1);
    assert.equal(lines(badOut.stderr).length, 1);
    const badSel = await run(dataDir, ['get', 'pods', '-l', 'a in (b']);
    assert.equal(badSel.code, 1);
    assert.match(badSel.stderr, /^error: invalid label selector: /);
  });

  await t.test('get -w prints the table, then one row per change', async () => {
    const child = spawn(process.execPath, [MAIN, '--data-dir', dataDir, 'get', 'sa', '-n', 't1', '-w'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const seen = (re: RegExp) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`watch output never matched ${re}: ${out}`)), 15_000);
        const check = () => {
          if (re.test(out)) {
            clearTimeout(timer);
            child.stdout.off('data', check);
            resolve();
          }
        };
        child.stdout.on('data', check);
        check();
      });
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    try {
      await seen(/^good\s+\d+s$/m);
      await run(dataDir, ['apply', '-f', '-'], { stdin: 'apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: watched, namespace: t1 }\n' });
      await seen(/^watched\s+\d+s$/m);
      await run(dataDir, ['delete', 'sa', 'watched', '-n', 't1']);
      await seen(/^watched[\s\S]*^watched\s+/m);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('close', r));
    }
    assert.match(out, /^NAME\s+AGE$/m);
  });

  await t.test('describe shows metadata, spec and the FieldsIgnored condition of an unsupported field', async () => {
    await run(dataDir, ['apply', '-f', '-'], {
      stdin: `apiVersion: v1\nkind: Pod\nmetadata: { name: sched, namespace: t1 }\nspec:\n  nodeSelector: { disk: ssd }\n  containers: [{ name: c, command: [sleep, "1000"] }]\n`,
    });
    const r = await run(dataDir, ['describe', 'pod', 'sched', '-n', 't1']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Name:\s+sched$/m);
    assert.match(r.stdout, /^Namespace:\s+t1$/m);
    assert.match(r.stdout, /^Kind:\s+Pod$/m);
    assert.match(r.stdout, /^Spec:\n\s+/m);
    assert.match(r.stdout, /^\s+Type\s+Status\s+Reason\s+Message$/m);
    assert.match(r.stdout, /^\s+FieldsIgnored\s+True\s+UnsupportedField\s+.*spec\.nodeSelector/m);
    assert.match(r.stdout, /^Events:\s+<none>$/m);
    const missing = await run(dataDir, ['describe', 'ap', 'nope', '-n', 't1']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr, 'error: authorizationpolicies.security.istio.io "nope" not found\n');
  });

  await t.test('delete: by name, not found, --ignore-not-found, by file', async () => {
    const d1 = await run(dataDir, ['delete', 'pod', 'sched', '-n', 't1']);
    assert.equal(d1.stdout, 'pod/sched deleted\n');
    assert.equal(d1.code, 0);
    const d2 = await run(dataDir, ['delete', 'pod', 'sched', '-n', 't1']);
    assert.equal(d2.code, 1);
    assert.equal(d2.stderr, 'error: pods "sched" not found\n');
    const d3 = await run(dataDir, ['delete', 'pod', 'sched', '-n', 't1', '--ignore-not-found']);
    assert.equal(d3.code, 0);
    assert.equal(d3.stdout + d3.stderr, '');
    const d4 = await run(dataDir, ['delete', '-f', join(dataDir, 't1.yaml')]);
    assert.equal(d4.code, 0);
    assert.deepEqual(lines(d4.stdout), ['pod/web deleted', 'namespace/t1 deleted']);
  });

  await t.test('version prints client and server versions', async () => {
    const r = await run(dataDir, ['version']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^Client Version: \S+\nServer Version: \S+\n$/);
  });

  await t.test('unknown verbs and flags fail with one line and a non-zero exit', async () => {
    const noFile = await run(dataDir, ['apply']);
    assert.equal(noFile.code, 1);
    assert.equal(noFile.stderr, 'error: must specify -f FILE|DIR|- (the manifests to apply)\n');
    const verb = await run(dataDir, ['frobnicate']);
    assert.notEqual(verb.code, 0);
    assert.equal(lines(verb.stderr).length, 1);
    assert.match(verb.stderr, /^error: unknown command 'frobnicate'/);
    const flag = await run(dataDir, ['get', 'pods', '--bogus-flag']);
    assert.notEqual(flag.code, 0);
    assert.equal(lines(flag.stderr).length, 1);
    assert.match(flag.stderr, /^error: unknown option '--bogus-flag'/);
    const missing = await run(dataDir, ['get']);
    assert.notEqual(missing.code, 0);
    assert.equal(lines(missing.stderr).length, 1);
  });
});

test('with no control plane running every verb says so clearly and exits 1', { timeout: 60_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ambit-cli-none-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const sock = join(dataDir, 'ambit.sock');
  const prefix = `error: cannot reach the control plane at ${sock}: is \`ambit controlplane\` running? (`;
  for (const args of [['get', 'pods'], ['apply', '-f', '-'], ['version'], ['delete', 'pod', 'x'], ['label', 'pod', 'x', 'a=b'], ['describe', 'pod', 'x']]) {
    const r = await run(dataDir, args, { stdin: 'apiVersion: v1\nkind: Namespace\nmetadata: { name: x }\n' });
    assert.equal(r.code, 1, args.join(' '));
    const errLines = lines(r.stderr);
    assert.equal(errLines.length, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.ok(errLines[0]!.startsWith(prefix), `${args.join(' ')}: ${r.stderr}`);
  }
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

test('TCP with a bearer token, AMBIT_DATA_DIR, and a second control plane on the same data dir', { timeout: 90_000 }, async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ambit-cli-tcp-'));
  const token = join(dataDir, 'token');
  const wrong = join(dataDir, 'wrong');
  writeFileSync(token, 's3cret-token\n');
  writeFileSync(wrong, 'not-it\n');
  const port = await freePort();
  const cp = await startControlPlane(dataDir, ['--listen', `127.0.0.1:${port}`, '--token-file', token]);
  t.after(async () => {
    if (cp.exitCode === null && cp.signalCode === null) {
      cp.kill('SIGKILL');
      await new Promise((r) => cp.once('exit', r));
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
  const server = `127.0.0.1:${port}`;
  const created = await run(undefined, ['--server', server, '--token-file', token, 'apply', '-f', '-'], { stdin: 'apiVersion: v1\nkind: Namespace\nmetadata: { name: over-tcp }\n' });
  assert.equal(created.stdout, 'namespace/over-tcp created\n');
  const denied = await run(undefined, ['--server', server, '--token-file', wrong, 'get', 'ns']);
  assert.equal(denied.code, 1);
  assert.equal(lines(denied.stderr).length, 1);
  assert.match(denied.stderr, /^error: .*token/);
  const viaEnv = await run(undefined, ['get', 'ns', 'over-tcp', '-o', 'name'], { env: { AMBIT_DATA_DIR: dataDir } });
  assert.equal(viaEnv.stdout, 'namespace/over-tcp\n');
  const second = await run(dataDir, ['controlplane', '--log-level', 'silent', '--grpc-listen', '127.0.0.1:0', '--metrics-listen', 'off']);
  assert.equal(second.code, 1);
  assert.equal(lines(second.stderr).length, 1);
  assert.match(second.stderr, /^error: /);
  const badListen = await run(dataDir, ['controlplane', '--listen', '127.0.0.1:1']);
  assert.equal(badListen.stderr, 'error: --listen needs --token-file FILE (the bearer token clients must present)\n');
  // SIGTERM stops it cleanly (exit 0) and removes the socket.
  cp.kill('SIGTERM');
  await new Promise((r) => cp.once('exit', r));
  assert.equal(cp.exitCode, 0);
  const gone = await run(dataDir, ['get', 'ns']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /^error: cannot reach the control plane at /);
});
