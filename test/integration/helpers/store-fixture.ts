// Test helper: a file store plus API server on a Unix socket in a fresh temp dir, torn down after the test.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileStore } from '../../../src/controlplane/store/file-store.js';
import { startApiServer, type ApiServer } from '../../../src/controlplane/apiserver/api-server.js';
import type { Store } from '../../../src/controlplane/store/store.js';
import { silentLogger } from '../../../src/lib/log.js';

export interface Fixture {
  dir: string;
  socketPath: string;
  store: Store;
  server: ApiServer;
  target: { socketPath: string };
  /** Closes server and store and opens them again on the same directory. */
  restart(): Promise<void>;
}

interface TestContext {
  after: (fn: () => Promise<void>) => void;
}

export async function startFixture(t: TestContext, opts: { historyLimit?: number; tcpToken?: string } = {}): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'ambit-api-'));
  const socketPath = join(dir, 'ambit.sock');
  const storeDir = join(dir, 'store');
  const open = async (): Promise<{ store: Store; server: ApiServer }> => {
    const store = await openFileStore(storeDir, opts.historyLimit === undefined ? {} : { historyLimit: opts.historyLimit });
    const server = await startApiServer({
      store,
      socketPath,
      log: silentLogger(),
      ...(opts.tcpToken ? { tcp: { host: '127.0.0.1', port: 0, token: opts.tcpToken } } : {}),
    });
    return { store, server };
  };
  const first = await open();
  const fx: Fixture = {
    dir,
    socketPath,
    store: first.store,
    server: first.server,
    target: { socketPath },
    async restart() {
      await fx.server.close();
      await fx.store.close();
      const next = await open();
      fx.store = next.store;
      fx.server = next.server;
    },
  };
  t.after(async () => {
    await fx.server.close();
    await fx.store.close();
    await rm(dir, { recursive: true, force: true });
  });
  return fx;
}
