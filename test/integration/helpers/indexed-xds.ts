// Test helper: an xDS server over an ambient index fed from a config source, wired the way controlplane.ts wires them.
import { AmbientIndex } from '../../../src/controlplane/ambient/ambient-index.js';
import type { IndexConfig } from '../../../src/controlplane/ambient/index-reader.js';
import { syncIndexWithSource } from '../../../src/controlplane/ambient/source-sync.js';
import type { ConfigSource } from '../../../src/controlplane/store/store.js';
import { startXdsServer, type XdsServer } from '../../../src/controlplane/xds/xds-server.js';

type XdsOptions = Omit<Parameters<typeof startXdsServer>[0], 'index'>;

/**
 * Fills a fresh index from `source`, serves it, and pushes what the feed reports. `flush()` first lets the feed apply
 * what it has queued and finish its status writes; `close()` also stops the feed.
 */
export async function startIndexedXds(opts: XdsOptions & { source: ConfigSource; index?: Partial<IndexConfig>; writeStatus?: boolean }): Promise<XdsServer> {
  const { source, index: indexConfig, writeStatus, ...xdsOptions } = opts;
  const index = new AmbientIndex(indexConfig);
  let pushTo: XdsServer | undefined;
  const sync = syncIndexWithSource({ source, index, log: opts.log, writeStatus, onChanges: (changes) => pushTo?.indexChanged(changes) });
  let xds: XdsServer;
  try {
    xds = await startXdsServer({ ...xdsOptions, index });
  } catch (err) {
    sync.close();
    throw err;
  }
  pushTo = xds;
  return {
    ...xds,
    port: xds.port,
    index,
    async flush() {
      await sync.settled();
      await xds.flush();
    },
    async close() {
      sync.close();
      await xds.close();
    },
  };
}
