// Hands heap memory a long-running proxy freed back to the node, every few seconds.
//
// Why: a traffic burst (an iperf3 run, a large download) fills glibc's heap with socket and TLS buffers; when they are
// freed, glibc keeps the pages mapped, so the proxy's private memory (RssAnon) stays at the burst's high-water mark
// for the rest of its life (measured: ztunnel 30 MiB idle, 51 MiB at 1,000 rps after one iperf3 run, with only
// 2 MiB of buffers still live). malloc_trim(0) returns free pages in every arena; when nothing is free it costs
// microseconds, so it simply runs on a timer.
import { nativeAddon } from './native-addon.js';

export const HEAP_TRIM_INTERVAL_MS = 5_000;

/** Starts trimming; returns the function that stops it. Throws NativeAddonMissingError without the addon. */
export function startHeapTrimming(intervalMs: number = HEAP_TRIM_INTERVAL_MS): () => void {
  const addon = nativeAddon();
  const timer = setInterval(() => addon.trimHeap(), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}
