// Reads the manifests named by `-f`: files, directories of *.yaml|*.yml|*.json (sorted; `-R` recurses) or `-` (stdin).
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { parseManifests } from '../api/index.js';
import { CliError } from './cli-context.js';

const MANIFEST_EXT = /\.(ya?ml|json)$/i;

/** The objects parsed from every source, plus one message per unreadable or malformed document. */
interface ManifestSet {
  objects: unknown[];
  errors: string[];
}

/** Expands `-f` arguments into the ordered list of files (or `-`) to read. Missing paths are CliErrors. */
async function manifestSources(paths: readonly string[], recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push('-');
      continue;
    }
    let st;
    try {
      st = await stat(p);
    } catch {
      throw new CliError(`the path "${p}" does not exist`);
    }
    if (st.isDirectory()) out.push(...(await filesIn(p, recursive)));
    else out.push(p);
  }
  return out;
}

async function filesIn(dir: string, recursive: boolean): Promise<string[]> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) out.push(...(await filesIn(p, true)));
    } else if (MANIFEST_EXT.test(e.name)) out.push(p);
  }
  return out;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(typeof c === 'string' ? Buffer.from(c) : (c as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

/** Reads and parses every source; a file that cannot be read is reported in `errors`, the rest still parse. */
export async function readManifests(paths: readonly string[], recursive: boolean, stdin: Readable): Promise<ManifestSet> {
  const sources = await manifestSources(paths, recursive);
  const set: ManifestSet = { objects: [], errors: [] };
  for (const src of sources) {
    let text: string;
    try {
      text = src === '-' ? await readAll(stdin) : await readFile(src, 'utf8');
    } catch (err) {
      set.errors.push(`cannot read ${src}: ${(err as Error).message}`);
      continue;
    }
    const parsed = parseManifests(text, src === '-' ? '<stdin>' : src);
    // One by one: spreading a list of 100k+ objects into push() overflows the call stack.
    for (const o of parsed.objects) set.objects.push(o);
    for (const e of parsed.errors) set.errors.push(e);
  }
  return set;
}
