// Crash-safe file writes, the one implementation for every component: atomic replace (temp file in the same
// directory, fsync, rename, directory fsync) and exclusive create. Used by the store, the CA, node tokens, the
// control plane's endpoints file, the sandbox cluster record and ztunnel's handover file.
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { link, open, rename, unlink } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';

/** Temp files start with this prefix; no stored object name can (names start with a letter or digit). */
export const TEMP_PREFIX = '.tmp-';

export function isTempFile(name: string): boolean {
  return name.startsWith(TEMP_PREFIX);
}

function tempPathFor(path: string): string {
  return join(dirname(path), `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
}

/** Writes `data` to a new temp file next to `path` with `mode` and fsyncs it; returns the temp path. */
async function writeTemp(path: string, data: string | Uint8Array, mode: number): Promise<string> {
  const tmp = tempPathFor(path);
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fh.close();
  return tmp;
}

/**
 * Atomically replaces `path` with `data` (mode 0600 unless given): a reader, or a restart after a crash, sees the
 * old or the new content, never a mix. The rename itself is durable only once `dirname(path)` is fsynced: callers
 * batching many writes call `syncDir` once; everyone else uses `writeFileDurable`.
 */
export async function replaceFile(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = await writeTemp(path, data, mode);
  await rename(tmp, path);
}

/** `replaceFile`, then the directory fsync: the write survives a crash once this resolves. */
export async function writeFileDurable(path: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  await replaceFile(path, data, mode);
  await syncDir(dirname(path));
}

/**
 * Creates `path` with `data` only if it does not exist yet (a hard link from a fsynced temp file: exclusive even
 * across processes). Returns false when another writer created it first; its content then stands.
 */
export async function createFileExclusive(path: string, data: string | Uint8Array, mode = 0o600): Promise<boolean> {
  const tmp = await writeTemp(path, data, mode);
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
  await syncDir(dirname(path));
  return true;
}

/** The synchronous `writeFileDurable`, for small state files written from synchronous code paths. */
export function writeFileDurableSync(path: string, data: string, mode = 0o600): void {
  const tmp = tempPathFor(path);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // the write failed already; that error is the one to report
    }
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

/** Fsyncs a directory so that entries created, renamed or removed in it survive a crash. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
