// The host-wide list of live sandbox clusters (name → data dir, slot) under /run/ambit/clusters: it keeps
// netns names and address ranges of coexisting clusters apart. It lives on tmpfs like the netns it describes.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_SLOTS, ClusterConfigError } from './cluster-layout.js';

const DEFAULT_REGISTRY_DIR = '/run/ambit/clusters';

interface RegistryEntry {
  name: string;
  dataDir: string;
  slot: number;
}

function readEntry(path: string): RegistryEntry | undefined {
  try {
    const e = JSON.parse(readFileSync(path, 'utf8')) as RegistryEntry;
    return typeof e.name === 'string' && typeof e.dataDir === 'string' && Number.isInteger(e.slot) ? e : undefined;
  } catch {
    return undefined;
  }
}

export function lookupRegistered(name: string, dir = DEFAULT_REGISTRY_DIR): RegistryEntry | undefined {
  return readEntry(join(dir, `${name}.json`));
}

/**
 * Claims `name` for `dataDir` and a free slot (creation is atomic: `wx` files for the name and the slot).
 * Re-registering the same name and data dir returns the existing entry; the same name from another data dir
 * is refused.
 */
export function registerCluster(name: string, dataDir: string, dir = DEFAULT_REGISTRY_DIR): RegistryEntry {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const existing = lookupRegistered(name, dir);
  if (existing) {
    if (existing.dataDir !== dataDir) {
      throw new ClusterConfigError(
        `a cluster named "${name}" already exists with data dir ${existing.dataDir}: delete it (ambit --data-dir ${existing.dataDir} cluster delete) or choose another --name`);
    }
    return existing;
  }
  for (let slot = 0; slot < MAX_SLOTS; slot++) {
    const slotFile = join(dir, `slot-${slot}`);
    try {
      writeFileSync(slotFile, name, { flag: 'wx' });
    } catch {
      continue; // taken
    }
    const entry: RegistryEntry = { name, dataDir, slot };
    try {
      writeFileSync(join(dir, `${name}.json`), JSON.stringify(entry), { flag: 'wx' });
    } catch (err) {
      unlinkSync(slotFile);
      throw new ClusterConfigError(`a cluster named "${name}" is being created concurrently (${(err as Error).message})`);
    }
    return entry;
  }
  throw new ClusterConfigError(`${MAX_SLOTS} sandbox clusters exist already (see ${dir}); delete one first`);
}

export function unregisterCluster(name: string, dir = DEFAULT_REGISTRY_DIR): void {
  const entry = lookupRegistered(name, dir);
  for (const f of [`${name}.json`, ...(entry ? [`slot-${entry.slot}`] : [])]) {
    try {
      unlinkSync(join(dir, f));
    } catch {
      // already gone
    }
  }
}
