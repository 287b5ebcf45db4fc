// One Delta ADS stream: per-type subscriptions (wildcard and explicit names), what the client holds (name →
// version, seeded from initial_resource_versions), nonces, ACK/NACK bookkeeping. It decides what to send; the
// server owns the stream and the timing. A NACK is recorded and never blocks other resources: the rejected
// names are forgotten as "held", so their next change is sent again but the same bad version is not re-pushed.
import { create } from '@bufbuild/protobuf';
import { DeltaDiscoveryResponseSchema, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type Resource } from '../../../proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import type { ResourceCache } from './resource-cache.js';

interface TypeState {
  wildcard: boolean;
  names: Set<string>;
  /** What we believe the client holds: name → version. */
  held: Map<string, string>;
  /** Sent but not yet (N)ACKed: nonce → names carried (updated and removed). */
  inFlight: Map<string, string[]>;
  lastSentNonce?: string;
  lastAckedNonce?: string;
  acks: number;
  nacks: number;
  lastNack?: { nonce: string; message: string; at: number };
  lastPushAt?: number;
  pushes: number;
}

/** What a request meant, for logging and metrics. */
interface RequestOutcome {
  kind: 'initial' | 'ack' | 'nack' | 'subscription' | 'stale' | 'unknown-type';
  typeUrl: string;
  nackMessage?: string;
  /** A response to send now (initial request or subscription change). */
  response?: DeltaDiscoveryResponse;
}

export class DeltaSession {
  readonly types = new Map<string, TypeState>();
  #nonceCounter = 0;

  readonly #cache: ResourceCache;
  readonly #served: ReadonlySet<string>;
  readonly #connectionId: string;
  readonly #visible: (typeUrl: string, name: string) => boolean;

  /** `visible`: whether this client may receive a resource at all (one it may not is treated as absent). */
  constructor(
    cache: ResourceCache,
    served: ReadonlySet<string>,
    connectionId: string,
    visible: (typeUrl: string, name: string) => boolean = () => true,
  ) {
    this.#cache = cache;
    this.#served = served;
    this.#connectionId = connectionId;
    this.#visible = visible;
  }

  handle(req: DeltaDiscoveryRequest): RequestOutcome {
    const typeUrl = req.typeUrl;
    if (!this.#served.has(typeUrl)) return { kind: 'unknown-type', typeUrl };
    let state = this.types.get(typeUrl);
    const initial = !state;
    if (!state) {
      state = { wildcard: false, names: new Set(), held: new Map(), inFlight: new Map(), acks: 0, nacks: 0, pushes: 0 };
      this.types.set(typeUrl, state);
      // Legacy wildcard: a first request naming nothing subscribes to everything.
      if (req.resourceNamesSubscribe.length === 0) state.wildcard = true;
      for (const [name, version] of Object.entries(req.initialResourceVersions)) state.held.set(name, version);
    }
    let outcome: RequestOutcome['kind'] = initial ? 'initial' : 'subscription';
    let nackMessage: string | undefined;
    if (req.responseNonce) {
      const carried = state.inFlight.get(req.responseNonce);
      if (!carried) {
        // A nonce we never sent or already settled: ignore its (N)ACK meaning (Envoy semantics for stale nonces).
        if (!initial && !req.resourceNamesSubscribe.length && !req.resourceNamesUnsubscribe.length) return { kind: 'stale', typeUrl };
      } else {
        state.inFlight.delete(req.responseNonce);
        if (req.errorDetail) {
          nackMessage = req.errorDetail.message || `error code ${req.errorDetail.code}`;
          state.nacks++;
          state.lastNack = { nonce: req.responseNonce, message: nackMessage, at: Date.now() };
          for (const name of carried) state.held.delete(name);
          outcome = 'nack';
        } else {
          state.acks++;
          state.lastAckedNonce = req.responseNonce;
          outcome = 'ack';
        }
      }
    }
    let changed = initial;
    for (const name of req.resourceNamesSubscribe) {
      if (name === '*') state.wildcard = true;
      else state.names.add(name);
      changed = true;
    }
    for (const name of req.resourceNamesUnsubscribe) {
      if (name === '*') state.wildcard = false;
      else {
        state.names.delete(name);
        // The client dropped it; if it is still covered by the wildcard it keeps it.
        if (!state.wildcard) state.held.delete(name);
      }
      changed = true;
    }
    if (!changed) return { kind: outcome, typeUrl, nackMessage };
    const response = this.#diff(typeUrl, state, undefined, initial);
    return { kind: outcome === 'ack' || outcome === 'nack' ? outcome : initial ? 'initial' : 'subscription', typeUrl, nackMessage, response };
  }

  /** The push for changed names of a type (all names when `names` is undefined), or undefined when nothing to send. */
  push(typeUrl: string, names: Iterable<string> | undefined): DeltaDiscoveryResponse | undefined {
    const state = this.types.get(typeUrl);
    if (!state) return undefined;
    return this.#diff(typeUrl, state, names, false);
  }

  #subscribed(state: TypeState, name: string): boolean {
    return state.wildcard || state.names.has(name);
  }

  #diff(typeUrl: string, state: TypeState, names: Iterable<string> | undefined, always: boolean): DeltaDiscoveryResponse | undefined {
    const resources: Resource[] = [];
    const removed: string[] = [];
    const candidates = names ? new Set(names) : new Set<string>([...(state.wildcard ? this.#cache.names(typeUrl) : []), ...state.names, ...state.held.keys()]);
    if (!names) for (const n of state.held.keys()) candidates.add(n);
    for (const name of [...candidates].sort()) {
      const version = this.#visible(typeUrl, name) ? this.#cache.version(typeUrl, name) : undefined;
      const held = state.held.get(name);
      if (version === undefined || !this.#subscribed(state, name)) {
        // Gone (or no longer subscribed: the client already forgot it, nothing to say).
        if (held !== undefined) {
          state.held.delete(name);
          if (version === undefined) removed.push(name);
        }
        // An explicitly subscribed name that does not exist yet is reported absent on the initial response.
        else if (version === undefined && state.names.has(name) && always) removed.push(name);
        continue;
      }
      if (held === version) continue;
      const entry = this.#cache.resource(typeUrl, name);
      if (!entry) continue;
      resources.push(entry.resource);
      state.held.set(name, version);
    }
    if (!resources.length && !removed.length && !always) return undefined;
    const nonce = `${this.#connectionId}-${++this.#nonceCounter}`;
    state.inFlight.set(nonce, [...resources.map((r) => r.name), ...removed]);
    // Bound the bookkeeping of a client that never answers.
    if (state.inFlight.size > 64) state.inFlight.delete(state.inFlight.keys().next().value!);
    state.lastSentNonce = nonce;
    state.lastPushAt = Date.now();
    state.pushes++;
    return create(DeltaDiscoveryResponseSchema, { typeUrl, nonce, resources, removedResources: removed, systemVersionInfo: '' });
  }
}
