// Streams a proxy's decisions (one per finished connection or request) to the control plane's DecisionService on
// the xDS port, for the dashboard's live table. Best effort by design: the data path only appends to a bounded
// queue; a full queue drops its oldest entry (counted, and the count travels with the next batch), and while the
// control plane is away nothing blocks and nothing grows past the bound.
import * as grpc from '@grpc/grpc-js';
import { CONTROL_PLANE_CHANNEL_OPTIONS, jitteredDelay } from '../control-plane-backoff.js';
import { describeError } from '../errors.js';
import type { Logger } from '../log.js';
import { AUTHORIZATION_HEADER } from '../xds/ads-service.js';
import type { DecisionRecord } from './decision-record.js';
import { decisionServiceDefinition, toBatch, type DecisionBatch, type ReportSummary } from './decision-service.js';

interface DecisionReporterOptions {
  address: string;
  credentials: grpc.ChannelCredentials;
  token?: () => string | Promise<string>;
  /** This proxy's xDS node id. */
  proxy: string;
  log: Logger;
  channelOptions?: grpc.ChannelOptions;
  /** Queue bound (default 2000 decisions). */
  maxQueue?: number;
}

/** How often queued decisions are sent: the live table is ~this far behind. */
const FLUSH_MS = 250;
/** Decisions per message: with the caps in toBatch a batch stays far below the port's 256 KiB message limit. */
const MAX_BATCH = 200;
const RETRY_MAX_MS = 5000;

type ReportCall = grpc.ClientWritableStream<DecisionBatch>;

export class DecisionReporter {
  readonly #o: DecisionReporterOptions;
  readonly #client: grpc.Client;
  readonly #queue: DecisionRecord[] = [];
  readonly #max: number;
  #dropped = 0;
  #call: ReportCall | undefined;
  #connecting = false;
  /** The stream refused more (write returned false) until it drains. */
  #blocked = false;
  #retryMs = 250;
  #timer: NodeJS.Timeout;
  #closed = false;

  constructor(o: DecisionReporterOptions) {
    this.#o = o;
    this.#max = o.maxQueue ?? 2000;
    const Client = grpc.makeGenericClientConstructor(decisionServiceDefinition, 'DecisionService');
    this.#client = new Client(o.address, o.credentials, { ...CONTROL_PLANE_CHANNEL_OPTIONS, ...o.channelOptions });
    this.#timer = setInterval(() => this.#flush(), FLUSH_MS);
    this.#timer.unref();
  }

  /** Queues one decision; never blocks, never throws. */
  record(d: DecisionRecord): void {
    if (this.#closed) return;
    if (this.#queue.length >= this.#max) {
      this.#queue.shift();
      this.#dropped++;
    }
    this.#queue.push(d);
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#call?.end();
    this.#call = undefined;
    this.#client.close();
  }

  #flush(): void {
    if (!this.#queue.length || this.#closed) return;
    if (!this.#call) {
      void this.#connect();
      return;
    }
    // A slow control plane must not make the stream buffer grow: stop at backpressure, so the queue (bounded,
    // oldest dropped) is the only place decisions wait.
    while (this.#queue.length && !this.#blocked) {
      if (!this.#call.write(toBatch(this.#o.proxy, this.#queue.splice(0, MAX_BATCH), this.#dropped))) this.#blocked = true;
    }
  }

  async #connect(): Promise<void> {
    if (this.#connecting || this.#closed) return;
    this.#connecting = true;
    try {
      const md = new grpc.Metadata();
      const token = this.#o.token ? await this.#o.token() : undefined;
      if (token) md.set(AUTHORIZATION_HEADER, `Bearer ${token}`);
      if (this.#closed) return;
      const call = (this.#client as unknown as { Report(md: grpc.Metadata, cb: (err: grpc.ServiceError | null, r?: ReportSummary) => void): ReportCall })
        .Report(md, (err) => {
          if (this.#call === call) this.#call = undefined;
          if (err && !this.#closed) {
            this.#o.log.debug({ error: err.details || err.message }, 'decision stream ended; reconnecting');
            this.#retryLater();
          }
        });
      call.on('drain', () => {
        this.#blocked = false;
        this.#flush();
      });
      this.#call = call;
      this.#blocked = false;
      this.#retryMs = 250;
      this.#flush();
    } catch (err) {
      this.#o.log.debug({ error: describeError(err) }, 'cannot open the decision stream');
      this.#retryLater();
    } finally {
      this.#connecting = false;
    }
  }

  #retryLater(): void {
    const wait = jitteredDelay(this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS);
    this.#connecting = true;
    setTimeout(() => {
      this.#connecting = false;
      this.#flush();
    }, wait).unref();
  }
}
