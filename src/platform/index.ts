// Public surface of the platform layer: netns toolkit, nftables, netns-placed sockets, seqpacket fd passing.
export * from './platform-errors.js';
export { runCommand, type CommandOptions, type CommandResult } from './command.js';
export { NETNS_DIR, type NetnsRef } from './arguments.js';
export { netnsPath, createNetns, deleteNetns, listNetns, netnsInUse, runIn, spawnIn, ipIn, createVethPair, type VethEnd } from './netns.js';
export { applyNft, listNftRuleset, listNftTable, deleteNftTable } from './nftables.js';
export { NftMonitor, type NftMonitorHandlers } from './nft-monitor.js';
export {
  createSocketInNetns, listenInNetns, connectFromNetns, bindUdpInNetns, socketFd, originalDestination, setSocketMark,
  netnsInode, setNetnsSysctl, type SocketTagOptions, type RawSocketOptions, type Endpoint, type ListenInNetnsOptions,
  type ConnectFromNetnsOptions, type BindUdpInNetnsOptions,
} from './netns-sockets.js';
export {
  SeqpacketConnection, SeqpacketServer, SeqpacketClosedError, connectSeqpacket, listenSeqpacket, ZDS_MAX_MESSAGE_BYTES,
  type SeqpacketOptions, type SeqpacketMessage,
} from './seqpacket.js';
export { FdWatcher, type FdWatcherHandlers } from './fd-watcher.js';
export { cniPluginExecutable, loadNativeAddon, nativeAddon } from './native-addon.js';
export { HEAP_TRIM_INTERVAL_MS, startHeapTrimming } from './heap-trim.js';
export { ProcessGroup, type ProcessGroupSpec, type ProcessExit } from './process-group.js';
