// The Delta ADS client ztunnel and waypoint use: one stream carrying every subscribed type, reconnect with
// exponential backoff (10 ms doubling to 2 s, each wait jittered, reset once a response arrives; the gRPC channel's
// own reconnect backoff capped at 1 s), validation of every resource at
// the edge (an invalid one is NACKed by name and never enters the snapshot; the rest still apply), and an
// immutable snapshot swapped in with one assignment per response. On reconnect it sends what it holds in
// `initial_resource_versions` so the server sends only what changed.
import * as grpc from '@grpc/grpc-js';
import { create, type JsonObject } from '@bufbuild/protobuf';
import { NodeSchema } from '../../../proto/gen/envoy/config/core/v3/base_pb.js';
import { CONTROL_PLANE_CHANNEL_OPTIONS, STREAM_RETRY_BACKOFF, jitteredDelay } from '../control-plane-backoff.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { AUTHORIZATION_HEADER, CLUSTER_ID_HEADER, DeltaDiscoveryRequestSchema, aggregatedDiscoveryServiceDefinition, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse } from './ads-service.js';
import { shortTypeName } from './type-urls.js';
import type { Decoded } from './workload-codec.js';

/** One resource type the client follows. */
interface XdsTypeSubscription<T = unknown> {
  typeUrl: string;
  /** Decodes and validates one resource; a failure is NACKed with its reason. */
  decode(bytes: Uint8Array): Decoded<T>;
  /** Explicit names; omitted = wildcard (everything). */
  names?: string[];
}

interface XdsClientOptions {
  /** `host:port` of the control plane's xDS endpoint. */
  address: string;
  credentials: grpc.ChannelCredentials;
  /** Bearer token (a node bootstrap token) sent as `authorization` on every stream; read anew per stream. */
  token?: () => string | Promise<string>;
  clusterId?: string;
  node: { id: string; metadata?: JsonObject };
  types: XdsTypeSubscription[];
  log?: Logger;
  backoff?: { initialMs: number; maxMs: number };
  channelOptions?: grpc.ChannelOptions;
}

/** An immutable view of everything received. */
export interface XdsSnapshot {
  /** Increases by one per applied response. */
  readonly generation: number;
  resources<T = unknown>(typeUrl: string): ReadonlyMap<string, T>;
}

export interface XdsUpdate {
  typeUrl: string;
  updated: string[];
  removed: string[];
  /** `name: reason` of resources rejected in this response. */
  rejected: string[];
}

interface XdsClientStatus {
  connected: boolean;
  reconnects: number;
  lastError?: string;
  nacksSent: number;
  /** Types that got at least one response since start. */
  synced: string[];
}

class Snapshot implements XdsSnapshot {
  readonly #byType: ReadonlyMap<string, ReadonlyMap<string, unknown>>;

  constructor(
    readonly generation: number,
    byType: ReadonlyMap<string, ReadonlyMap<string, unknown>>,
  ) {
    this.#byType = byType;
    Object.freeze(this);
  }
  resources<T = unknown>(typeUrl: string): ReadonlyMap<string, T> {
    return (this.#byType.get(typeUrl) ?? new Map()) as ReadonlyMap<string, T>;
  }
}

type Stream = grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;

const ADS_CLIENT = grpc.makeGenericClientConstructor(aggregatedDiscoveryServiceDefinition, 'AggregatedDiscoveryService');

export class XdsClient {
  readonly #log: Logger;
  readonly #client: grpc.Client;
  #current: Snapshot;
  /** typeUrl → name → version of every accepted resource (what goes into initial_resource_versions). */
  readonly #versions = new Map<string, Map<string, string>>();
  #stream: Stream | undefined;
  #timer: NodeJS.Timeout | undefined;
  #backoffMs: number;
  #closed = false;
  readonly #listeners: Array<(s: XdsSnapshot, u: XdsUpdate) => void> = [];
  readonly #synced = new Set<string>();
  readonly #syncWaiters: Array<() => void> = [];
  #state: XdsClientStatus = { connected: false, reconnects: 0, nacksSent: 0, synced: [] };

  readonly #opts: XdsClientOptions;

  constructor(opts: XdsClientOptions) {
    this.#opts = opts;
    this.#log = (opts.log ?? silentLogger()).child({ module: 'xds-client' });
    this.#backoffMs = opts.backoff?.initialMs ?? STREAM_RETRY_BACKOFF.initialMs;
    this.#current = new Snapshot(0, new Map(opts.types.map((t) => [t.typeUrl, new Map()])));
    for (const t of opts.types) this.#versions.set(t.typeUrl, new Map());
    this.#client = new ADS_CLIENT(opts.address, opts.credentials, { 'grpc.max_receive_message_length': 200 * 1024 * 1024, ...CONTROL_PLANE_CHANNEL_OPTIONS, ...opts.channelOptions });
  }

  /** Opens the stream (and keeps it open until close). */
  start(): void {
    this.#connect();
  }

  snapshot(): XdsSnapshot {
    return this.#current;
  }

  /** Called after every applied response with the new snapshot. */
  onUpdate(listener: (snapshot: XdsSnapshot, update: XdsUpdate) => void): void {
    this.#listeners.push(listener);
  }

  /** Resolves once every type has received its first response (readiness). */
  synchronized(): Promise<void> {
    if (this.#synced.size === this.#opts.types.length) return Promise.resolve();
    return new Promise((resolve) => this.#syncWaiters.push(resolve));
  }

  status(): XdsClientStatus {
    return { ...this.#state, synced: [...this.#synced] };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#stream?.cancel();
    this.#client.close();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    const md = new grpc.Metadata();
    try {
      if (this.#opts.token) md.set(AUTHORIZATION_HEADER, `Bearer ${await this.#opts.token()}`);
    } catch (err) {
      this.#fail(`cannot read the xDS token: ${describeError(err)}`);
      return;
    }
    md.set(CLUSTER_ID_HEADER, this.#opts.clusterId ?? 'Kubernetes');
    if (this.#closed) return;
    const stream = (this.#client as unknown as { DeltaAggregatedResources(md: grpc.Metadata): Stream }).DeltaAggregatedResources(md);
    this.#stream = stream;
    let gotResponse = false;
    stream.on('data', (resp: DeltaDiscoveryResponse) => {
      if (!gotResponse) {
        gotResponse = true;
        this.#backoffMs = this.#opts.backoff?.initialMs ?? STREAM_RETRY_BACKOFF.initialMs;
        this.#state.connected = true;
      }
      this.#apply(stream, resp);
    });
    const ended = (why: string) => {
      if (this.#stream !== stream) return;
      this.#stream = undefined;
      this.#state.connected = false;
      if (!this.#closed) this.#fail(why);
    };
    stream.on('error', (err: grpc.ServiceError) => ended(`${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`));
    stream.on('end', () => ended('stream ended by the server'));
    this.#opts.types.forEach((t, i) => {
      const req = create(DeltaDiscoveryRequestSchema, {
        typeUrl: t.typeUrl,
        resourceNamesSubscribe: t.names ?? [],
        initialResourceVersions: Object.fromEntries(this.#versions.get(t.typeUrl)!),
      });
      if (i === 0) req.node = create(NodeSchema, { id: this.#opts.node.id, metadata: this.#opts.node.metadata });
      stream.write(req);
    });
  }

  #fail(why: string): void {
    this.#state.lastError = why;
    const delay = jitteredDelay(this.#backoffMs);
    this.#log.warn({ reason: why, retryInMs: delay }, 'xDS stream down; reconnecting');
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#state.reconnects++;
      void this.#connect();
    }, delay);
    this.#timer.unref?.();
    this.#backoffMs = Math.min(this.#backoffMs * 2, this.#opts.backoff?.maxMs ?? STREAM_RETRY_BACKOFF.maxMs);
  }

  #apply(stream: Stream, resp: DeltaDiscoveryResponse): void {
    const sub = this.#opts.types.find((t) => t.typeUrl === resp.typeUrl);
    if (!sub) {
      stream.write(create(DeltaDiscoveryRequestSchema, { typeUrl: resp.typeUrl, responseNonce: resp.nonce, errorDetail: { code: grpc.status.INVALID_ARGUMENT, message: `type ${resp.typeUrl} was not requested` } }));
      return;
    }
    const prev = this.#current.resources(resp.typeUrl);
    const next = new Map(prev);
    const versions = this.#versions.get(resp.typeUrl)!;
    const update: XdsUpdate = { typeUrl: resp.typeUrl, updated: [], removed: [], rejected: [] };
    for (const r of resp.resources) {
      const bytes = r.resource?.value;
      if (r.resource && r.resource.typeUrl !== resp.typeUrl) {
        update.rejected.push(`${r.name}: resource type ${r.resource.typeUrl} does not match ${resp.typeUrl}`);
        continue;
      }
      const decoded = bytes ? sub.decode(bytes) : ({ ok: false, reason: 'resource has no body' } as const);
      if (!decoded.ok) {
        update.rejected.push(`${r.name}: ${decoded.reason}`);
        // Not recorded as known: a later (fixed) version will be sent again; the previous good value stays.
        continue;
      }
      next.set(r.name, decoded.value);
      versions.set(r.name, r.version);
      update.updated.push(r.name);
    }
    for (const name of resp.removedResources) {
      if (next.delete(name)) update.removed.push(name);
      versions.delete(name);
    }
    if (update.updated.length || update.removed.length) {
      const byType = new Map<string, ReadonlyMap<string, unknown>>();
      for (const t of this.#opts.types) byType.set(t.typeUrl, t.typeUrl === resp.typeUrl ? next : this.#current.resources(t.typeUrl));
      // The single assignment readers observe: a response is applied entirely or not at all.
      this.#current = new Snapshot(this.#current.generation + 1, byType);
    }
    const ack = create(DeltaDiscoveryRequestSchema, { typeUrl: resp.typeUrl, responseNonce: resp.nonce });
    if (update.rejected.length) {
      ack.errorDetail = { $typeName: 'envoy.service.discovery.v3.RpcStatus', code: grpc.status.INVALID_ARGUMENT, message: update.rejected.join('; '), details: [] };
      this.#state.nacksSent++;
      this.#log.warn({ type: shortTypeName(resp.typeUrl), rejected: update.rejected }, 'rejected xDS resources (NACK)');
    }
    stream.write(ack);
    if (!this.#synced.has(resp.typeUrl)) {
      this.#synced.add(resp.typeUrl);
      if (this.#synced.size === this.#opts.types.length) for (const w of this.#syncWaiters.splice(0)) w();
    }
    for (const l of this.#listeners) l(this.#current, update);
  }
}
