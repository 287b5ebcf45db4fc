// Keeps one bootstrap token per Node object: created when a Node appears in the config source, revoked (file deleted)
// when it is deleted, and checked by hash only: the registry holds SHA-256 digests, never the tokens.
import type { Logger } from 'pino';
import type { ConfigSource, Watch, WatchEvent } from '../store/store.js';
import { describeError } from '../../lib/errors.js';
import { ensureNodeToken, hashNodeToken, readNodeToken, removeNodeToken, tokenHashesEqual } from '../../lib/certs/node-token.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';

const NODE_FILTER = { group: '', kind: 'Node' } as const;
/** After a lookup miss, token files are re-read at most this often (ms): picks up tokens replaced on disk. */
const RESCAN_INTERVAL_MS = 1000;

export class NodeTokenRegistry {
  readonly #dataDir: string;
  readonly #log: Logger;
  /** node name → SHA-256 hex of its token. */
  readonly #hashes = new Map<string, string>();
  #watch: Watch | undefined;
  #chain: Promise<void> = Promise.resolve();
  #lastRescan = 0;
  #closed = false;

  private constructor(dataDir: string, log: Logger) {
    this.#dataDir = dataDir;
    this.#log = log;
  }

  /** Lists Nodes, makes sure each has a token, removes tokens of Nodes that no longer exist, then watches. */
  static async start(opts: { source: ConfigSource; dataDir: string; log: Logger }): Promise<NodeTokenRegistry> {
    const r = new NodeTokenRegistry(opts.dataDir, opts.log);
    const { items, resourceVersion } = opts.source.list(NODE_FILTER);
    const names = new Set(items.map((n) => n.metadata.name));
    for (const name of names) await r.#add(name);
    let existing: string[] = [];
    try {
      existing = await readdir(join(opts.dataDir, 'nodes'));
    } catch {
      existing = [];
    }
    for (const name of existing) if (!names.has(name)) await r.#remove(name);
    r.#watch = opts.source.watch(NODE_FILTER, (ev) => r.#onEvent(ev), resourceVersion);
    return r;
  }

  /** The node a bearer token belongs to, or undefined. */
  async authenticate(token: string): Promise<string | undefined> {
    const h = hashNodeToken(token);
    const found = this.#lookup(h);
    if (found || Date.now() - this.#lastRescan < RESCAN_INTERVAL_MS) return found;
    this.#lastRescan = Date.now();
    await this.#chain;
    for (const node of [...this.#hashes.keys()]) {
      const t = await readNodeToken(this.#dataDir, node).catch(() => undefined);
      if (t) this.#hashes.set(node, hashNodeToken(t));
    }
    return this.#lookup(h);
  }

  /** Resolves once every event received so far has been applied (tests, orderly shutdown). */
  settled(): Promise<void> {
    return this.#chain;
  }

  close(): void {
    this.#closed = true;
    this.#watch?.close();
  }

  #lookup(h: string): string | undefined {
    for (const [node, stored] of this.#hashes) if (tokenHashesEqual(stored, h)) return node;
    return undefined;
  }

  #onEvent(ev: WatchEvent): void {
    const name = ev.object.metadata.name;
    this.#chain = this.#chain.then(async () => {
      if (this.#closed) return;
      if (ev.type === 'DELETED') await this.#remove(name);
      else if (!this.#hashes.has(name)) await this.#add(name);
    });
  }

  async #add(node: string): Promise<void> {
    try {
      const token = await ensureNodeToken(this.#dataDir, node);
      this.#hashes.set(node, hashNodeToken(token));
      this.#log.info({ node }, 'node bootstrap token ready');
    } catch (err) {
      this.#log.error({ node, err: describeError(err) }, 'cannot create the node bootstrap token');
    }
  }

  async #remove(node: string): Promise<void> {
    this.#hashes.delete(node);
    try {
      await removeNodeToken(this.#dataDir, node);
      this.#log.info({ node }, 'node bootstrap token revoked');
    } catch (err) {
      this.#log.error({ node, err: describeError(err) }, 'cannot delete the node bootstrap token');
    }
  }
}
