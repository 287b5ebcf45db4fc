// Watch over HTTP: streams store events as newline-delimited JSON and ends slow or expired streams cleanly.
import type { ServerResponse } from 'node:http';
import type { KubeObject } from '../../api/meta.js';
import type { Logger } from '../../lib/log.js';
import { StoreError, type ListFilter, type Store, type Watch, type WatchEvent } from '../store/store.js';
import { statusBody } from './http-status.js';

/** Bytes a watch response may have queued unsent before the client is considered too slow and the stream ends. */
const WATCH_BUFFER_BYTES = 16 * 1024 * 1024;

/** The object as served under `apiVersion` (the kinds' versions share one schema, so only the field changes). */
export function asVersion(obj: KubeObject, apiVersion: string): KubeObject {
  return obj.apiVersion === apiVersion ? obj : { ...obj, apiVersion };
}

// Serialized lines per served apiVersion, shared by all watchers: an event fanned out to many watchers is
// stringified once.
const lineCache = new Map<string, WeakMap<WatchEvent, string>>();

function eventLine(ev: WatchEvent, apiVersion: string): string {
  let cache = lineCache.get(apiVersion);
  if (!cache) lineCache.set(apiVersion, (cache = new WeakMap()));
  let line = cache.get(ev);
  if (line === undefined) {
    line = `${JSON.stringify({ type: ev.type, object: asVersion(ev.object, apiVersion) })}\n`;
    cache.set(ev, line);
  }
  return line;
}

function errorLine(code: number, reason: string, message: string): string {
  return `${JSON.stringify({ type: 'ERROR', object: statusBody(code, reason, message) })}\n`;
}

interface WatchStreamOptions {
  store: Store;
  filter: ListFilter;
  /** Resume point; undefined or '' = live changes only; '0' = every current object as ADDED, then live changes. */
  resourceVersion: string | undefined;
  apiVersion: string;
  log: Logger;
  /** Called once when the stream ends for any reason (the server forgets it). */
  onEnd: () => void;
}

/**
 * Starts a watch stream on `res`. Returns a function that ends it (server shutdown). Throws before anything is
 * written when the store refuses the watch for a reason other than expiry (e.g. a malformed version: a 400).
 */
export function startWatchStream(res: ServerResponse, o: WatchStreamOptions): () => void {
  let watch: Watch | undefined;
  let ended = false;
  const end = (finalLine?: string): void => {
    if (ended) return;
    ended = true;
    watch?.close();
    if (finalLine && !res.destroyed) res.write(finalLine);
    res.end();
    o.onEnd();
  };
  // Events arrive in bursts (one store batch at a time): cork until the end of the tick so a burst leaves in one write.
  let corked = false;
  const uncork = (): void => {
    corked = false;
    res.uncork();
  };
  const onEvent = (ev: WatchEvent): void => {
    if (ended) return;
    if (!corked) {
      corked = true;
      res.cork();
      process.nextTick(uncork);
    }
    res.write(eventLine(ev, o.apiVersion));
    if (res.writableLength > WATCH_BUFFER_BYTES) {
      o.log.warn({ kind: o.filter.kind, buffered: res.writableLength }, 'watch client too slow; ending its stream');
      end(errorLine(503, 'ServiceUnavailable', `watch ended: the client fell more than ${WATCH_BUFFER_BYTES} bytes behind; resume from the last resourceVersion received`));
    }
  };
  const onClose = (err: StoreError): void => {
    const [code, reason] = err.code === 'STORE_GONE' ? [410, 'Expired'] : [503, 'ServiceUnavailable'];
    end(errorLine(code, reason, err.message));
  };
  let initial: KubeObject[] = [];
  try {
    if (o.resourceVersion === '0') {
      const listed = o.store.list(o.filter);
      initial = listed.items;
      watch = o.store.watch(o.filter, onEvent, listed.resourceVersion, { onClose });
    } else {
      watch = o.store.watch(o.filter, onEvent, o.resourceVersion, { onClose });
    }
  } catch (err) {
    if (!(err instanceof StoreError) || err.code !== 'STORE_GONE') throw err;
    res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
    end(errorLine(410, 'Expired', err.message));
    return () => undefined;
  }
  // Store events arrive on a later turn, so the headers and any initial objects are written first.
  res.writeHead(200, { 'content-type': 'application/x-ndjson', 'cache-control': 'no-cache' });
  res.flushHeaders();
  for (const obj of initial) res.write(`${JSON.stringify({ type: 'ADDED', object: asVersion(obj, o.apiVersion) })}\n`);
  res.on('close', () => end());
  return () => end();
}
