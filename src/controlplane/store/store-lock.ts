// Exclusive ownership of a store directory: a lock file holding the owner's pid, taken over when that pid is gone.
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { StoreError } from './store.js';
import { TEMP_PREFIX } from '../../lib/durable-file.js';

const LOCK_FILE = 'lock';
// Directories opened by this process: a lock file naming our own pid is stale (e.g. a container restarted with
// the same pid) unless the directory is in this set.
const openHere = new Set<string>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lock of `dir`; resolves to its release function. Fails with `STORE_LOCKED` when another owner is alive. */
export async function lockStoreDir(dir: string): Promise<() => Promise<void>> {
  const abs = resolve(dir);
  const path = join(abs, LOCK_FILE);
  if (openHere.has(abs)) throw new StoreError('STORE_LOCKED', `store ${abs} is already open in this process`);
  // The lock appears atomically with its content: write a temp file, then hard-link it to the lock name (link
  // fails when the lock exists), so a competitor never reads an empty lock.
  const tmp = join(abs, `${TEMP_PREFIX}lock-${process.pid}-${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(tmp, path);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw err;
        const owner = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
        if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && pidAlive(owner)) {
          throw new StoreError('STORE_LOCKED', `store ${abs} is in use by process ${owner} (lock file ${path}); stop that process first`);
        }
        await unlink(path).catch(() => undefined);
      }
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  openHere.add(abs);
  return async () => {
    openHere.delete(abs);
    await unlink(path).catch(() => undefined);
  };
}
