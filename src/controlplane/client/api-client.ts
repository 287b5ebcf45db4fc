// The control plane's REST client: typed get/list/create/update/patch/delete/watch over the Unix socket or TCP, or
// against a real Kubernetes API server over HTTPS (its REST paths are the ones Ambit's own API server serves).
import http from 'node:http';
import https from 'node:https';
import type { KubeObject } from '../../api/meta.js';
import { kindByName } from '../../api/registry.js';
import { ClientError, type ApiStatus } from './client-error.js';
import { NdjsonLines } from './ndjson-lines.js';
import { httpGetOver, openPortForward } from './port-forward.js';
import { resourcePath, versionOf, type ResourceType } from '../../api/resource-path.js';

/**
 * Where the API is: the control plane's Unix socket, its TCP port with the bearer token it requires, or a Kubernetes
 * API server (`https://host:port`, trusted CA, and a bearer token or client certificate, as a kubeconfig names them).
 */
export type ClientEndpoint =
  | { socketPath: string }
  | { host: string; port: number; token: string }
  | { kube: KubeEndpoint };

export interface KubeEndpoint {
  /** `https://host:port` (a path prefix is not supported). */
  server: string;
  /** PEM of the CA that signed the API server's serving certificate. */
  caPem?: string;
  token?: string;
  certPem?: string;
  keyPem?: string;
  /** Name checked against the serving certificate when it differs from the server's host (kubeconfig tls-server-name). */
  tlsServerName?: string;
}

interface ClientOptions {
  endpoint: ClientEndpoint;
  /** Per-request deadline in milliseconds for everything but watches; default 30 000. */
  timeoutMs?: number;
  /** Sent as User-Agent; the server lists watches under it (`ambit-nodeagent/<node>` for node agents). */
  userAgent?: string;
}

/** A collection as the server returns it (`PodList`, …). */
interface ObjectList {
  apiVersion: string;
  kind: string;
  metadata: { resourceVersion: string };
  items: KubeObject[];
}

interface ListOptions {
  /** Absent for cluster-scoped kinds or for all namespaces. */
  namespace?: string;
  /** kubectl selector syntax, passed through as `labelSelector=`. */
  labelSelector?: string;
}

interface WatchOptions extends ListOptions {
  /** Deliver every change after this version (then live ones); absent = live changes only. */
  resourceVersion?: string;
}

type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

interface WatchEvent {
  type: WatchEventType;
  object: KubeObject;
}

/**
 * A running watch: iterate it for events in order. The iteration ends when `close()` is called or the server
 * ends the stream; it throws a `ClientError` on an `ERROR` event (e.g. 410 Expired) or a broken connection.
 */
interface WatchStream extends AsyncIterable<WatchEvent> {
  close(): void;
}

interface RawResponse {
  status: number;
  contentType: string;
  body: Buffer;
}

const DEFAULT_TIMEOUT_MS = 30_000;

export class ApiClient {
  readonly #endpoint: ClientEndpoint;
  readonly #timeoutMs: number;
  #userAgent: string | undefined;
  // Keep-alive so a CLI verb touching many objects reuses one connection; `close()` releases it.
  readonly #agent: http.Agent;

  constructor(opts: ClientOptions) {
    this.#endpoint = opts.endpoint;
    this.#agent = 'kube' in opts.endpoint ? new https.Agent({ keepAlive: true, maxSockets: 8 }) : new http.Agent({ keepAlive: true, maxSockets: 4 });
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#userAgent = opts.userAgent;
  }

  /** Names the caller to the server from now on (User-Agent), e.g. a node agent sharing the CLI's client. */
  identifyAs(userAgent: string): void {
    this.#userAgent = userAgent;
  }

  /** The socket path or `host:port` this client talks to (for messages). */
  get target(): string {
    if ('socketPath' in this.#endpoint) return this.#endpoint.socketPath;
    if ('kube' in this.#endpoint) return this.#endpoint.kube.server;
    return `${this.#endpoint.host}:${this.#endpoint.port}`;
  }

  /** Whether this client talks to a Kubernetes API server (not Ambit's own). */
  get isKube(): boolean {
    return 'kube' in this.#endpoint;
  }

  /** @internal `http.request` or `https.request`, whichever the endpoint needs. */
  get transport(): typeof http.request {
    return 'kube' in this.#endpoint ? https.request : http.request;
  }

  /**
   * GETs `path` from `port` of pod `namespace/name` through the API server's port-forward (Kubernetes only) and
   * parses the JSON answer: how admin endpoints that listen on a pod's loopback are read.
   */
  async podPortGetJson(namespace: string, name: string, port: number, path: string): Promise<unknown> {
    if (!('kube' in this.#endpoint)) throw new ClientError('CLIENT_UNREACHABLE', `port-forward needs a Kubernetes API server (--kubeconfig); ${this.target} is not one`);
    const label = `pod ${namespace}/${name} port ${port}`;
    const stream = await openPortForward(this.#endpoint.kube, namespace, name, port, this.#timeoutMs);
    const { status, body } = await httpGetOver(stream, path, this.#timeoutMs).catch((err: Error) => {
      throw new ClientError('CLIENT_UNREACHABLE', `GET ${path} from ${label}: ${err.message}`, { cause: err });
    });
    if (status !== 200) throw new ClientError('CLIENT_API_ERROR', `GET ${path} from ${label} answered ${status}: ${body.trim().split('\n')[0] ?? ''}`, { status });
    try {
      return JSON.parse(body) as unknown;
    } catch {
      throw new ClientError('CLIENT_BAD_RESPONSE', `GET ${path} from ${label} did not answer JSON`);
    }
  }

  /** The server's version document (`{ ambit: "0.1.0" }`). */
  async version(): Promise<{ ambit: string; [k: string]: unknown }> {
    const body = await this.requestJson('GET', '/version');
    if (typeof body !== 'object' || body === null || typeof (body as { ambit?: unknown }).ambit !== 'string') {
      throw new ClientError('CLIENT_BAD_RESPONSE', `unexpected /version answer from ${this.target}`);
    }
    return body as { ambit: string };
  }

  async get(type: ResourceType, namespace: string | undefined, name: string): Promise<KubeObject> {
    return asObject(await this.requestJson('GET', resourcePath(type, { namespace, name })), this.target);
  }

  async list(type: ResourceType, opts: ListOptions = {}): Promise<ObjectList> {
    const query = opts.labelSelector ? `?labelSelector=${encodeURIComponent(opts.labelSelector)}` : '';
    const body = await this.requestJson('GET', resourcePath(type, { namespace: opts.namespace }) + query);
    const list = body as Partial<ObjectList> | null;
    if (!list || typeof list !== 'object' || !Array.isArray(list.items)) {
      throw new ClientError('CLIENT_BAD_RESPONSE', `unexpected list answer from ${this.target} (no items array)`);
    }
    // Kubernetes leaves kind and apiVersion out of the items of built-in lists (PodList): put them back, so every
    // object handed on names its kind as a watch event's or a get's does.
    const listKind = String(list.kind ?? '');
    const itemKind = listKind.endsWith('List') ? listKind.slice(0, -'List'.length) : undefined;
    const items = itemKind ? list.items.map((o) => (o.kind ? o : { ...o, apiVersion: String(list.apiVersion ?? 'v1'), kind: itemKind })) : list.items;
    return {
      apiVersion: String(list.apiVersion ?? 'v1'),
      kind: String(list.kind ?? 'List'),
      metadata: { resourceVersion: String(list.metadata?.resourceVersion ?? '') },
      items,
    };
  }

  /** POSTs a new object to its collection (the namespace comes from the object). */
  async create(obj: KubeObject): Promise<KubeObject> {
    const { type, version } = typeOf(obj);
    const path = resourcePath(type, { namespace: obj.metadata?.namespace, version });
    return asObject(await this.requestJson('POST', path, obj), this.target);
  }

  /** PUTs a replacement; with `metadata.resourceVersion` set the server refuses a stale write (409). */
  async update(obj: KubeObject): Promise<KubeObject> {
    const { type, version } = typeOf(obj);
    const path = resourcePath(type, { namespace: obj.metadata?.namespace, name: String(obj.metadata?.name ?? ''), version });
    return asObject(await this.requestJson('PUT', path, obj), this.target);
  }

  /** PUTs only the status of an object. */
  async updateStatus(obj: KubeObject): Promise<KubeObject> {
    const { type, version } = typeOf(obj);
    const name = String(obj.metadata?.name ?? '');
    const path = resourcePath(type, { namespace: obj.metadata?.namespace, name, subresource: 'status', version });
    return asObject(await this.requestJson('PUT', path, obj), this.target);
  }

  /** Applies an RFC 7386 JSON merge patch (`null` removes a key). */
  async patch(type: ResourceType, namespace: string | undefined, name: string, mergePatch: unknown): Promise<KubeObject> {
    const path = resourcePath(type, { namespace, name });
    return asObject(await this.requestJson('PATCH', path, mergePatch, 'application/merge-patch+json'), this.target);
  }

  /** Deletes an object and returns its last state. */
  async delete(type: ResourceType, namespace: string | undefined, name: string): Promise<KubeObject> {
    return asObject(await this.requestJson('DELETE', resourcePath(type, { namespace, name })), this.target);
  }

  /** Opens a watch on a collection; see `WatchStream`. */
  watch(type: ResourceType, opts: WatchOptions = {}): WatchStream {
    const params = new URLSearchParams({ watch: '1' });
    if (opts.resourceVersion) params.set('resourceVersion', opts.resourceVersion);
    if (opts.labelSelector) params.set('labelSelector', opts.labelSelector);
    const path = `${resourcePath(type, { namespace: opts.namespace })}?${params.toString()}`;
    return openWatch(this, path);
  }

  /** Releases pooled connections; in-flight watches keep their own connection until closed. */
  close(): void {
    this.#agent.destroy();
  }

  /** Sends one request and parses its JSON answer; non-2xx answers become `ClientError`s. */
  async requestJson(method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<unknown> {
    const res = await this.#send(method, path, body, contentType);
    const parsed = parseBody(res, this.target);
    if (res.status < 200 || res.status >= 300) throw ClientError.fromResponse(res.status, parsed);
    return parsed;
  }

  #send(method: string, path: string, body: unknown, contentType: string): Promise<RawResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise<RawResponse>((resolve, reject) => {
      const req = this.transport(this.requestOptions(method, path, payload, contentType));
      req.setTimeout(this.#timeoutMs, () => {
        req.destroy(Object.assign(new Error(`no answer within ${this.#timeoutMs} ms`), { code: 'ETIMEDOUT' }));
      });
      req.on('error', (err) => reject(this.transportError(err)));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) => reject(this.transportError(err)));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks) }),
        );
      });
      req.end(payload);
    });
  }

  /** @internal Options for `http.request` (shared with watches). */
  requestOptions(method: string, path: string, payload: Buffer | undefined, contentType: string, agent: http.Agent | false = this.#agent): http.RequestOptions {
    const headers: http.OutgoingHttpHeaders = { accept: 'application/json' };
    if (this.#userAgent) headers['user-agent'] = this.#userAgent;
    if (payload) {
      headers['content-type'] = contentType;
      headers['content-length'] = payload.length;
    }
    const base: http.RequestOptions = { method, path, headers, agent };
    if ('socketPath' in this.#endpoint) return { ...base, socketPath: this.#endpoint.socketPath };
    if ('kube' in this.#endpoint) {
      const k = this.#endpoint.kube;
      const url = new URL(k.server);
      if (k.token) headers.authorization = `Bearer ${k.token}`;
      const tls: https.RequestOptions = { ca: k.caPem, cert: k.certPem, key: k.keyPem, servername: k.tlsServerName };
      return { ...base, ...tls, host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port || 443) } as http.RequestOptions;
    }
    headers.authorization = `Bearer ${this.#endpoint.token}`;
    return { ...base, host: this.#endpoint.host, port: this.#endpoint.port };
  }

  /** @internal Turns a socket-level failure into the user-facing "cannot reach" error. */
  transportError(err: Error): ClientError {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    const detail = code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
    if (['ENOENT', 'ECONNREFUSED', 'EACCES', 'EPERM', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTSOCK'].includes(code)) {
      const hint = code === 'EACCES' || code === 'EPERM' ? 'do you have permission to use it (the socket is mode 0600)?' : this.isKube ? 'is the Kubernetes API server running?' : 'is `ambit controlplane` running?';
      return new ClientError('CLIENT_UNREACHABLE', `cannot reach ${this.isKube ? 'the Kubernetes API server' : 'the control plane'} at ${this.target}: ${hint} (${detail})`, { cause: err });
    }
    return new ClientError('CLIENT_UNREACHABLE', `lost the connection to the control plane at ${this.target} (${detail})`, { cause: err });
  }
}

// --- helpers ---

function typeOf(obj: KubeObject): { type: ResourceType; version: string | undefined } {
  const info = typeof obj?.kind === 'string' ? kindByName(obj.kind) : undefined;
  if (!info) {
    throw new ClientError('CLIENT_UNKNOWN_KIND', `the server doesn't have a resource type for kind ${JSON.stringify(obj?.kind ?? null)}`);
  }
  return { type: info, version: versionOf(info, obj.apiVersion) };
}

function parseBody(res: RawResponse, target: string): unknown {
  const text = res.body.toString('utf8');
  if (!text) return undefined;
  if (res.contentType.includes('json') || /^\s*[{[]/.test(text)) {
    try {
      return JSON.parse(text);
    } catch (err) {
      throw new ClientError('CLIENT_BAD_RESPONSE', `the control plane at ${target} sent malformed JSON (HTTP ${res.status})`, { cause: err });
    }
  }
  return text;
}

function asObject(body: unknown, target: string): KubeObject {
  if (typeof body !== 'object' || body === null || typeof (body as KubeObject).kind !== 'string') {
    throw new ClientError('CLIENT_BAD_RESPONSE', `the control plane at ${target} answered without an object`);
  }
  return body as KubeObject;
}

function isWatchEvent(v: unknown): v is { type: string; object: unknown } {
  return typeof v === 'object' && v !== null && typeof (v as { type?: unknown }).type === 'string' && 'object' in v;
}

function openWatch(client: ApiClient, path: string): WatchStream {
  let closed = false;
  let req: http.ClientRequest | undefined;
  async function* events(): AsyncGenerator<WatchEvent> {
    try {
      yield* stream();
    } catch (err) {
      if (closed) return;
      if (err instanceof ClientError) throw err;
      if (err instanceof SyntaxError) throw new ClientError('CLIENT_BAD_RESPONSE', `malformed watch event from ${client.target}`, { cause: err });
      throw client.transportError(err as Error);
    }
  }
  async function* stream(): AsyncGenerator<WatchEvent> {
    // A watch lives as long as the caller wants: its own connection, no pooling and no deadline.
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      req = client.transport(client.requestOptions('GET', path, undefined, 'application/json', false));
      req.on('error', reject);
      req.on('response', resolve);
      req.end();
    });
    if ((res.statusCode ?? 0) < 200 || (res.statusCode ?? 0) >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: report the text as it is
      }
      throw ClientError.fromResponse(res.statusCode ?? 0, body);
    }
    const lines = new NdjsonLines();
    for await (const chunk of res) {
      for (const ev of lines.push(chunk as Buffer)) yield toEvent(ev);
    }
    for (const ev of lines.end()) yield toEvent(ev);
  }
  function toEvent(v: unknown): WatchEvent {
    if (!isWatchEvent(v)) throw new ClientError('CLIENT_BAD_RESPONSE', `malformed watch event from ${client.target}`);
    if (v.type === 'ERROR') {
      const status = v.object as ApiStatus;
      throw ClientError.fromResponse(typeof status?.code === 'number' ? status.code : 500, status);
    }
    if (v.type !== 'ADDED' && v.type !== 'MODIFIED' && v.type !== 'DELETED') {
      throw new ClientError('CLIENT_BAD_RESPONSE', `unknown watch event type '${v.type}' from ${client.target}`);
    }
    return { type: v.type, object: v.object as KubeObject };
  }
  const gen = events();
  return {
    [Symbol.asyncIterator]: () => gen,
    close() {
      if (closed) return;
      closed = true;
      req?.destroy();
      // Ends a generator still waiting to start; a running one ends when the destroyed stream rejects.
      void gen.return(undefined).catch(() => undefined);
    },
  };
}
