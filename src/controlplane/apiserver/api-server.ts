// The control plane's REST API: Kubernetes-shaped paths over a Unix socket (mode 0600) and optionally bearer-token TCP.
import http from 'node:http';
import net from 'node:net';
import { createHash, timingSafeEqual } from 'node:crypto';
import { chmod, lstat, mkdir, readFile, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Through the api index so that every kind's spec rules are registered with validateObject.
import { objectRef, parseLabelSelector, validateObject, type IgnoredField, type KubeObject } from '../../api/index.js';
import { nestingProblem, objectSizeProblem } from '../../api/limits.js';
import { MeshError, describeError } from '../../lib/errors.js';
import type { Logger } from '../../lib/log.js';
import { StoreError, type ListFilter, type ObjectKey, type Store } from '../store/store.js';
import { specChanged } from '../store/object-diff.js';
import { applyMergePatch } from './merge-patch.js';
import { withFieldsIgnored } from './fields-ignored.js';
import { HttpStatusError, causesOf, statusForError, type StatusDetails } from './http-status.js';
import { parseJsonBody, readBody } from './http-body.js';
import { parseResourcePath, type ResourcePath } from './resource-path.js';
import { asVersion, startWatchStream } from './watch-stream.js';
import { WATCH_CLIENTS_PATH, type WatchClientStatus } from '../../lib/watch-clients.js';

type RouteHandler = (req: http.IncomingMessage, body: Buffer) => Promise<{ status: number; body: unknown }>;

export interface ApiServer {
  /** Stops listening, ends watch streams and open connections, removes the socket file. */
  close(): Promise<void>;
  /** The bound TCP port when `tcp` was given (useful with port 0). */
  tcpPort?: number;
  /**
   * Adds an extra endpoint, matched before the resource routes. `path` matches exactly, or as a prefix when it ends
   * with `/*`. The handler's body is sent as JSON; a thrown error becomes a Status response.
   */
  addRoute(method: string, path: string, handler: RouteHandler): void;
}

interface ApiServerOptions {
  store: Store;
  socketPath: string;
  tcp?: { host: string; port: number; token: string };
  log: Logger;
}

/** Startup failures of the API server (address in use, bad socket path). */
class ApiServerError extends MeshError {
  constructor(code: 'APISERVER_ADDRESS_IN_USE' | 'APISERVER_BAD_SOCKET_PATH' | 'APISERVER_LISTEN', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Retries of an unconditional update (no resourceVersion given) that lost a race with another writer. */
const UPDATE_RETRIES = 5;
/** sockaddr_un holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;
const MERGE_PATCH = 'application/merge-patch+json';

let versionPromise: Promise<string> | undefined;

/** Ambit's version: the `version` of the nearest package.json named "ambit" above this module. */
function ambitVersion(): Promise<string> {
  versionPromise ??= (async () => {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 8; i++) {
      try {
        const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'ambit' && pkg.version) return pkg.version;
      } catch {
        // not here; look further up
      }
      dir = dirname(dir);
    }
    return 'unknown';
  })();
  return versionPromise;
}

function nowRfc3339(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** Starts serving. Fails with `APISERVER_ADDRESS_IN_USE` when a live server already listens on the socket. */
export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const server = new RestServer(opts);
  await server.listen();
  return server;
}

interface WatcherInfo {
  client: string;
  resource: string;
  since: string;
}

interface Route {
  method: string;
  path: string;
  prefix: boolean;
  handler: RouteHandler;
}

class RestServer implements ApiServer {
  tcpPort?: number;
  readonly #store: Store;
  readonly #log: Logger;
  readonly #routes: Route[] = [];
  readonly #watchEnders = new Set<() => void>();
  /** Open watches by their ender: who holds them (for `ambit proxy-status`). */
  readonly #watchers = new Map<() => void, WatcherInfo>();
  readonly #servers: http.Server[] = [];
  readonly #tokenDigest: Buffer | undefined;
  #closed = false;

  readonly #opts: ApiServerOptions;

  constructor(opts: ApiServerOptions) {
    this.#opts = opts;
    this.#store = opts.store;
    this.#log = opts.log;
    this.#tokenDigest = opts.tcp ? sha256(opts.tcp.token) : undefined;
  }

  addRoute(method: string, path: string, handler: RouteHandler): void {
    const prefix = path.endsWith('/*');
    this.#routes.push({ method: method.toUpperCase(), path: prefix ? path.slice(0, -1) : path, prefix, handler });
  }

  // --- Listening ---

  async listen(): Promise<void> {
    const sock = this.#opts.socketPath;
    if (Buffer.byteLength(sock) > MAX_SOCKET_PATH_BYTES) {
      throw new ApiServerError('APISERVER_BAD_SOCKET_PATH', `socket path ${sock} is longer than ${MAX_SOCKET_PATH_BYTES} bytes; use a shorter data dir`);
    }
    await mkdir(dirname(sock), { recursive: true, mode: 0o700 });
    await removeStaleSocket(sock);
    const unixServer = this.#createServer(false);
    // Create the socket with mode 0600 from the start (umask), then chmod in case umask is unavailable.
    let oldMask: number | undefined;
    try {
      oldMask = process.umask(0o177);
    } catch {
      oldMask = undefined; // worker threads cannot change the umask
    }
    let listening: Promise<void>;
    try {
      listening = listenOn(unixServer, (s) => s.listen(sock));
    } finally {
      if (oldMask !== undefined) process.umask(oldMask);
    }
    try {
      await listening;
    } catch (err) {
      throw new ApiServerError('APISERVER_LISTEN', `cannot listen on ${sock}: ${describeError(err)}`, { cause: err });
    }
    this.#servers.push(unixServer);
    try {
      await chmod(sock, 0o600);
      if (this.#opts.tcp) {
        const tcp = this.#opts.tcp;
        const tcpServer = this.#createServer(true);
        await listenOn(tcpServer, (s) => s.listen(tcp.port, tcp.host)).catch((err: unknown) => {
          throw new ApiServerError('APISERVER_LISTEN', `cannot listen on ${tcp.host}:${tcp.port}: ${describeError(err)}`, { cause: err });
        });
        this.#servers.push(tcpServer);
        this.tcpPort = (tcpServer.address() as net.AddressInfo).port;
      }
    } catch (err) {
      await this.close();
      throw err;
    }
    this.#log.info({ socket: sock, tcpPort: this.tcpPort }, 'api server listening');
  }

  #createServer(tcp: boolean): http.Server {
    const server = http.createServer((req, res) => void this.#handle(req, res, tcp));
    // Watches are long-lived; only the request head has a deadline.
    server.requestTimeout = 0;
    server.headersTimeout = 30_000;
    return server;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const end of [...this.#watchEnders]) end();
    await Promise.all(
      this.#servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    await unlink(this.#opts.socketPath).catch(() => undefined);
    this.#log.info({ socket: this.#opts.socketPath }, 'api server closed');
  }

  // --- Request handling ---

  async #handle(req: http.IncomingMessage, res: http.ServerResponse, tcp: boolean): Promise<void> {
    const started = performance.now();
    const method = req.method ?? 'GET';
    // Only the path and query matter; a malformed target falls back to '/' and gets a 404.
    let url: URL;
    try {
      url = new URL(`http://ambit.invalid${(req.url ?? '/').startsWith('/') ? req.url : '/'}`);
    } catch {
      url = new URL('http://ambit.invalid/');
    }
    res.on('finish', () => {
      if (this.#log.isLevelEnabled('debug')) {
        this.#log.debug({ method, path: url.pathname, query: url.search || undefined, status: res.statusCode, duration_ms: Math.round(performance.now() - started) }, 'request');
      }
    });
    let details: StatusDetails | undefined;
    try {
      if (tcp && !this.#authorized(req)) {
        req.resume();
        throw new HttpStatusError(401, 'Unauthorized', 'missing or invalid bearer token (send Authorization: Bearer <token>)');
      }
      const route = this.#routes.find((r) => r.method === method && (r.prefix ? url.pathname.startsWith(r.path) : url.pathname === r.path));
      if (route) {
        const body = await readBody(req);
        const out = await route.handler(req, body);
        sendJson(res, out.status, out.body);
        return;
      }
      if (method === 'GET' && url.pathname === '/version') {
        req.resume();
        sendJson(res, 200, { ambit: await ambitVersion() });
        return;
      }
      if (method === 'GET' && url.pathname === WATCH_CLIENTS_PATH) {
        req.resume();
        sendJson(res, 200, { items: this.#watcherSummary() });
        return;
      }
      if (method === 'GET' && (url.pathname === '/healthz' || url.pathname === '/readyz')) {
        req.resume();
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('ok');
        return;
      }
      const parsed = parseResourcePath(url.pathname);
      if (!parsed) throw new HttpStatusError(404, 'NotFound', `no route for ${method} ${url.pathname}`);
      if (!parsed.ok) throw new HttpStatusError(404, 'NotFound', parsed.error);
      const rp = parsed.path;
      details = { kind: rp.kind.kind };
      if (rp.name !== undefined) details.name = rp.name;
      await this.#handleResource(req, res, method, url, rp, details);
    } catch (err) {
      const { body, internal } = statusForError(err, details);
      if (internal) this.#log.error({ method, path: url.pathname, error: describeError(err) }, 'request failed');
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (body.code === 413) res.setHeader('connection', 'close');
      sendJson(res, body.code, body);
    }
  }

  /** Open watches grouped by the client that declared itself in User-Agent; anonymous watches are left out. */
  #watcherSummary(): WatchClientStatus[] {
    const byClient = new Map<string, WatchClientStatus>();
    for (const w of this.#watchers.values()) {
      if (!w.client) continue;
      let c = byClient.get(w.client);
      if (!c) byClient.set(w.client, (c = { client: w.client, watches: 0, resources: [], connectedAt: w.since }));
      c.watches++;
      c.resources.push(w.resource);
      // The newest watch: a client is only fully back once its last watch is re-established.
      if (w.since > c.connectedAt) c.connectedAt = w.since;
    }
    return [...byClient.values()].sort((a, b) => a.client.localeCompare(b.client));
  }

  #authorized(req: http.IncomingMessage): boolean {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    // Compare digests: equal length whatever was sent, so the comparison time reveals nothing about the token.
    return !!m && !!this.#tokenDigest && timingSafeEqual(sha256(m[1]!), this.#tokenDigest);
  }

  async #handleResource(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    method: string,
    url: URL,
    rp: ResourcePath,
    details: StatusDetails,
  ): Promise<void> {
    const isItem = rp.name !== undefined;
    if (rp.subresource === 'status') {
      if (method === 'GET') {
        req.resume();
        return this.#respondObject(res, 200, this.#getOrThrow(rp), rp);
      }
      if (method !== 'PUT' && method !== 'PATCH') throw notAllowed(method, 'the status subresource (use GET, PUT or PATCH)');
      const body = await this.#readJson(req, rp, method);
      const obj = await this.#writeExisting(rp, body, method === 'PATCH' ? patchKind(req) : 'replace', true, details);
      return this.#respondObject(res, 200, obj, rp);
    }
    if (method === 'GET') {
      req.resume();
      if (isItem) return this.#respondObject(res, 200, this.#getOrThrow(rp), rp);
      const filter = this.#filterOf(rp, url);
      const watch = url.searchParams.get('watch');
      if (watch === '1' || watch === 'true') {
        const rv = url.searchParams.get('resourceVersion') ?? undefined;
        let ender: (() => void) | undefined;
        const onEnd = (): void => {
          if (!ender) return;
          this.#watchEnders.delete(ender);
          this.#watchers.delete(ender);
        };
        ender = startWatchStream(res, { store: this.#store, filter, resourceVersion: rv, apiVersion: rp.apiVersion, log: this.#log, onEnd });
        if (!res.writableEnded) {
          this.#watchEnders.add(ender);
          this.#watchers.set(ender, { client: req.headers['user-agent'] ?? '', resource: url.pathname, since: new Date().toISOString() });
        }
        return;
      }
      const listed = this.#store.list(filter);
      sendJson(res, 200, {
        apiVersion: rp.apiVersion,
        kind: `${rp.kind.kind}List`,
        metadata: { resourceVersion: listed.resourceVersion },
        items: listed.items.map((o) => asVersion(o, rp.apiVersion)),
      });
      return;
    }
    if (method === 'POST') {
      if (isItem) throw notAllowed(method, 'an object (POST creates in a collection)');
      if (rp.kind.namespaced && rp.namespace === undefined) {
        throw notAllowed(method, `the all-namespaces collection (create ${rp.kind.kind} under /namespaces/{namespace}/${rp.kind.plural})`);
      }
      const body = await this.#readJson(req, rp, method);
      const created = await this.#create(rp, body, details);
      return this.#respondObject(res, 201, created, rp);
    }
    if (!isItem) throw notAllowed(method, `a collection (${method} needs an object name)`);
    if (method === 'PUT' || method === 'PATCH') {
      const body = await this.#readJson(req, rp, method);
      const obj = await this.#writeExisting(rp, body, method === 'PATCH' ? patchKind(req) : 'replace', false, details);
      return this.#respondObject(res, 200, obj, rp);
    }
    if (method === 'DELETE') {
      const body = await this.#readJson(req, rp, method);
      const pre = isRecord(body) && isRecord(body.preconditions) ? body.preconditions : undefined;
      const precondition: { resourceVersion?: string } = {};
      if (pre && typeof pre.resourceVersion === 'string') precondition.resourceVersion = pre.resourceVersion;
      const deleted = await this.#store.delete(this.#keyOf(rp), precondition);
      return this.#respondObject(res, 200, deleted, rp);
    }
    throw notAllowed(method, 'resources');
  }

  /**
   * A resource request's JSON body. Refusals name the object: a body over the size limit by the request path, one
   * nested too deeply (422, before anything walks it recursively) by the path and the body's own metadata.
   */
  async #readJson(req: http.IncomingMessage, rp: ResourcePath, method: string): Promise<unknown> {
    let raw: Buffer;
    try {
      raw = await readBody(req);
    } catch (err) {
      if (!(err instanceof HttpStatusError) || err.httpStatus !== 413) throw err;
      const target = rp.name !== undefined ? refOf(rp) : `${method === 'POST' ? 'new ' : ''}${rp.kind.kind}${rp.namespace !== undefined ? ` in namespace ${rp.namespace}` : ''}`;
      throw new HttpStatusError(413, err.reason, `${target}: ${err.message}`, err.details);
    }
    const body = parseJsonBody(raw);
    const deep = nestingProblem(body);
    if (deep) {
      const meta = isRecord(body) && isRecord(body.metadata) ? body.metadata : {};
      const ref = objectRef({ kind: rp.kind.kind, metadata: { name: meta.name ?? rp.name, namespace: meta.namespace ?? rp.namespace } });
      const line = `${ref}: ${deep.path}: ${deep.reason}`;
      const d: StatusDetails = { kind: rp.kind.kind, causes: causesOf([line]) };
      const name = typeof meta.name === 'string' ? meta.name : rp.name;
      if (name !== undefined) d.name = name;
      throw new HttpStatusError(422, 'Invalid', line, d);
    }
    return body;
  }

  #respondObject(res: http.ServerResponse, status: number, obj: KubeObject, rp: ResourcePath): void {
    sendJson(res, status, asVersion(obj, rp.apiVersion));
  }

  #keyOf(rp: ResourcePath): ObjectKey {
    const key: ObjectKey = { group: rp.kind.group, kind: rp.kind.kind, name: rp.name ?? '' };
    if (rp.namespace !== undefined) key.namespace = rp.namespace;
    return key;
  }

  #getOrThrow(rp: ResourcePath): KubeObject {
    const key = this.#keyOf(rp);
    const obj = this.#store.get(key);
    if (!obj) throw new StoreError('STORE_NOT_FOUND', `${refOf(rp)} not found`);
    return obj;
  }

  #filterOf(rp: ResourcePath, url: URL): ListFilter {
    const filter: ListFilter = { group: rp.kind.group, kind: rp.kind.kind };
    if (rp.namespace !== undefined) filter.namespace = rp.namespace;
    const sel = url.searchParams.get('labelSelector');
    if (sel) {
      const parsed = parseLabelSelector(sel);
      if (!parsed.ok) throw new HttpStatusError(400, 'BadRequest', `labelSelector: ${parsed.error}`);
      filter.labelSelector = parsed.requirements;
    }
    return filter;
  }

  /** Refuses a body whose kind, namespace or name disagrees with the path; fills the ones it leaves out. */
  #matchPath(rp: ResourcePath, body: unknown): Record<string, unknown> & { metadata: Record<string, unknown> } {
    if (!isRecord(body)) throw new HttpStatusError(400, 'BadRequest', `request body must be a ${rp.kind.kind} object`);
    if (body.kind !== undefined && body.kind !== rp.kind.kind) {
      throw new HttpStatusError(400, 'BadRequest', `body kind '${String(body.kind)}' does not match the path, which serves ${rp.kind.kind}`);
    }
    if (body.metadata === undefined) body.metadata = {};
    if (!isRecord(body.metadata)) throw new HttpStatusError(400, 'BadRequest', 'metadata must be an object');
    const meta = body.metadata;
    if (rp.namespace !== undefined) {
      if (meta.namespace === undefined || meta.namespace === '') meta.namespace = rp.namespace;
      else if (meta.namespace !== rp.namespace) {
        throw new HttpStatusError(400, 'BadRequest', `metadata.namespace '${String(meta.namespace)}' does not match the namespace '${rp.namespace}' of the request path`);
      }
    }
    if (rp.name !== undefined) {
      if (meta.name === undefined || meta.name === '') meta.name = rp.name;
      else if (meta.name !== rp.name) {
        throw new HttpStatusError(400, 'BadRequest', `metadata.name '${String(meta.name)}' does not match the name '${rp.name}' of the request path`);
      }
    }
    return body as Record<string, unknown> & { metadata: Record<string, unknown> };
  }

  #validate(input: unknown, rp: ResourcePath): { object: KubeObject; ignored: IgnoredField[] } {
    const v = validateObject(input);
    if (!v.ok) {
      const meta = isRecord(input) && isRecord(input.metadata) ? input.metadata : {};
      const d: StatusDetails = { kind: rp.kind.kind, causes: causesOf(v.errors) };
      if (typeof meta.name === 'string') d.name = meta.name;
      throw new HttpStatusError(422, 'Invalid', v.errors.join('\n'), d);
    }
    return { object: v.object, ignored: v.ignored };
  }

  async #create(rp: ResourcePath, body: unknown, details: StatusDetails): Promise<KubeObject> {
    const input = this.#matchPath(rp, body);
    if (typeof input.metadata.name === 'string') details.name = input.metadata.name;
    const rv = input.metadata.resourceVersion;
    if (rv !== undefined && rv !== '') {
      // As Kubernetes: a version names a stored state, and a new object has none yet.
      const line = `${objectRef(input)}: metadata.resourceVersion: must not be set on objects to be created (the server assigns it)`;
      throw new HttpStatusError(422, 'Invalid', line, { ...details, causes: causesOf([line]) });
    }
    const { object, ignored } = this.#validate(input, rp);
    // As in Kubernetes, status is not set by create: it starts with only what the server says about the object.
    const status = withFieldsIgnored(undefined, ignored, 1, nowRfc3339());
    if (status) object.status = status;
    else delete object.status;
    return this.#store.create(object);
  }

  /**
   * PUT or PATCH of an object or of its status. Without a resourceVersion from the client the write is
   * unconditional: a conflict with a concurrent writer is retried against the newer state.
   */
  async #writeExisting(rp: ResourcePath, body: unknown, mode: 'replace' | 'merge', statusOnly: boolean, details: StatusDetails): Promise<KubeObject> {
    const clientRv = isRecord(body) && isRecord(body.metadata) && typeof body.metadata.resourceVersion === 'string' && body.metadata.resourceVersion !== ''
      ? body.metadata.resourceVersion
      : undefined;
    for (let attempt = 0; ; attempt++) {
      const current = this.#getOrThrow(rp);
      // Stored objects are frozen and a merge shares untouched subtrees with them: work on a copy.
      const incoming = structuredClone(mode === 'merge' ? applyMergePatch(asVersion(current, rp.apiVersion), body) : body);
      const input = this.#matchPath(rp, incoming);
      input.metadata.resourceVersion = clientRv ?? current.metadata.resourceVersion;
      try {
        if (statusOnly) {
          if (input.status !== undefined && !isRecord(input.status)) throw new HttpStatusError(400, 'BadRequest', 'status must be an object');
          // Keep FieldsIgnored true to the stored spec whatever the status writer sent.
          const stored = validateObject(current);
          const ignored = stored.ok ? stored.ignored : [];
          const status = withFieldsIgnored(input.status as KubeObject['status'], ignored, current.metadata.generation ?? 1, nowRfc3339(), current.status);
          const next: KubeObject = { ...current, metadata: { ...current.metadata, resourceVersion: input.metadata.resourceVersion as string } };
          if (status) next.status = status;
          else delete next.status;
          // Status skips spec validation but not the size limit: it is stored and kept in the watch history too.
          const tooLarge = objectSizeProblem(next);
          if (tooLarge) {
            const line = `${objectRef(next)}: ${tooLarge.path}: ${tooLarge.reason}`;
            throw new HttpStatusError(422, 'Invalid', line, { ...details, causes: causesOf([line]) });
          }
          return await this.#store.updateStatus(next);
        }
        const { object, ignored } = this.#validate(input, rp);
        if (typeof object.metadata.name === 'string') details.name = object.metadata.name;
        // The main resource does not write status (that is the status subresource's job): keep the stored one.
        const generation = (current.metadata.generation ?? 1) + (specChanged(current, object) ? 1 : 0);
        const status = withFieldsIgnored(current.status, ignored, generation, nowRfc3339());
        if (status) object.status = status;
        else delete object.status;
        return await this.#store.update(object);
      } catch (err) {
        const retry = err instanceof StoreError && err.code === 'STORE_CONFLICT' && clientRv === undefined && attempt < UPDATE_RETRIES;
        if (!retry) throw err;
      }
    }
  }
}

/** The path's object as messages name it; the name and namespace come from the URL, so they are escaped (`%00`). */
function refOf(rp: ResourcePath): string {
  return objectRef({ kind: rp.kind.kind, metadata: { name: rp.name, namespace: rp.namespace } });
}

function notAllowed(method: string, what: string): HttpStatusError {
  return new HttpStatusError(405, 'MethodNotAllowed', `${method} is not allowed on ${what}`);
}

function patchKind(req: http.IncomingMessage): 'merge' {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== MERGE_PATCH) {
    throw new HttpStatusError(415, 'UnsupportedMediaType', `PATCH needs Content-Type: ${MERGE_PATCH} (got '${type || 'none'}')`);
  }
  return 'merge';
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function listenOn(server: http.Server, start: (s: http.Server) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.once('listening', () => {
      server.off('error', onError);
      resolve();
    });
    start(server);
  });
}

/** Removes a socket file left by a dead server; refuses when a server still answers there or the path is no socket. */
async function removeStaleSocket(path: string): Promise<void> {
  let isSocket: boolean;
  try {
    isSocket = (await lstat(path)).isSocket();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!isSocket) throw new ApiServerError('APISERVER_BAD_SOCKET_PATH', `${path} exists and is not a socket; remove it or use another data dir`);
  const alive = await new Promise<boolean>((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new ApiServerError('APISERVER_ADDRESS_IN_USE', `a control plane is already listening on ${path}; stop it first or use another data dir`);
  await unlink(path);
}
