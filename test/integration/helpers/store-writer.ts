// Test helper (child process): writes to a file store forever and prints one line per write begun and acknowledged.
// Usage: node store-writer.js <store dir>. Lines: `open <rv>`, `begin <key> <op> <value>`, `ack <key> <op> <value> <rv>`
// (value '-' for deletes). The crash test SIGKILLs this process at random moments and checks the store afterwards.
import { openFileStore } from '../../../src/controlplane/store/file-store.js';
import type { KubeObject } from '../../../src/api/meta.js';

const KEYS = 100;
const WORKERS = 8;
const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: store-writer <store dir>\n');
  process.exit(2);
}

const store = await openFileStore(dir);
// stdout is a pipe: writes are synchronous on Linux, so a printed line is never lost to the kill.
const say = (line: string): void => void process.stdout.write(`${line}\n`);
say(`open ${store.resourceVersion()}`);

const keyName = (i: number): string => `k${String(i).padStart(3, '0')}`;
const known = new Map<string, KubeObject | undefined>();
for (let i = 0; i < KEYS; i++) {
  const name = keyName(i);
  known.set(name, store.get({ group: '', kind: 'Service', namespace: 'default', name }));
}
const busy = new Set<string>();
let seq = 0;
const padding = 'x'.repeat(1500); // makes each file span more than one write syscall's worth of page cache

async function worker(): Promise<void> {
  for (;;) {
    let name: string;
    do name = keyName(Math.floor(Math.random() * KEYS));
    while (busy.has(name));
    busy.add(name);
    const cur = known.get(name);
    const value = `${process.pid}-${++seq}`;
    let result: KubeObject;
    if (!cur) {
      say(`begin ${name} create ${value}`);
      result = await store.create({ apiVersion: 'v1', kind: 'Service', metadata: { name, namespace: 'default' }, spec: { value, padding } });
      known.set(name, result);
      say(`ack ${name} create ${value} ${result.metadata.resourceVersion}`);
    } else if (Math.random() < 0.25) {
      say(`begin ${name} delete -`);
      result = await store.delete({ group: '', kind: 'Service', namespace: 'default', name }, { resourceVersion: cur.metadata.resourceVersion! });
      known.set(name, undefined);
      say(`ack ${name} delete - ${result.metadata.resourceVersion}`);
    } else {
      say(`begin ${name} update ${value}`);
      result = await store.update({ ...cur, metadata: { ...cur.metadata }, spec: { value, padding } });
      known.set(name, result);
      say(`ack ${name} update ${value} ${result.metadata.resourceVersion}`);
    }
    busy.delete(name);
  }
}

await Promise.all(Array.from({ length: WORKERS }, worker));
