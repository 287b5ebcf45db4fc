// How fast clients of the control plane (xDS, CA) come back after an outage: short, jittered, capped retries.
import type * as grpc from '@grpc/grpc-js';

/**
 * gRPC channel reconnect backoff for control-plane channels. grpc-js defaults grow to 120 s, and while the
 * channel waits, every new call fails at once with the cached error: after a long outage a node would stay cut
 * off (no policy revocations, pods, certificates) for up to two minutes after the control plane is back.
 * 250 ms doubling to 1 s (grpc-js adds ±20 % jitter) keeps a returning control plane reachable within ~1.2 s.
 */
export const CONTROL_PLANE_CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 1000,
};

/** Default retry backoff of a control-plane stream: starts at 10 ms, doubles, capped at 2 s. */
export const STREAM_RETRY_BACKOFF = { initialMs: 10, maxMs: 2000 } as const;

/**
 * The delay actually waited for a backoff step of `ms`: uniformly in [ms/2, ms], so the proxies of a cluster
 * that lost the control plane together do not all come back in the same instant.
 */
export function jitteredDelay(ms: number, random: () => number = Math.random): number {
  return Math.round(ms / 2 + random() * (ms / 2));
}
