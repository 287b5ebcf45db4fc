// HTTP/2 framing (RFC 9113 §4, §6) for the HBONE codec: constants, frame headers, and an incremental parser that
// hands DATA payload to its stream as slices of the TLS reads (no reassembly of large frames, no copies) while
// every other frame is collected whole.

const FRAME_HEADER_BYTES = 9;
export const CONNECTION_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** The initial window and the smallest SETTINGS_MAX_FRAME_SIZE every peer must accept. */
export const DEFAULT_WINDOW = 65_535;
export const DEFAULT_MAX_FRAME = 16_384;
export const MAX_WINDOW = 2 ** 31 - 1;

export const FrameType = {
  DATA: 0x0, HEADERS: 0x1, PRIORITY: 0x2, RST_STREAM: 0x3, SETTINGS: 0x4, PUSH_PROMISE: 0x5, PING: 0x6,
  GOAWAY: 0x7, WINDOW_UPDATE: 0x8, CONTINUATION: 0x9,
} as const;

export const Flag = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** Error codes (RFC 9113 §7); the names match Node's NGHTTP2_* constants. */
export const ErrorCode = {
  NO_ERROR: 0x0, PROTOCOL_ERROR: 0x1, INTERNAL_ERROR: 0x2, FLOW_CONTROL_ERROR: 0x3, SETTINGS_TIMEOUT: 0x4,
  STREAM_CLOSED: 0x5, FRAME_SIZE_ERROR: 0x6, REFUSED_STREAM: 0x7, CANCEL: 0x8, COMPRESSION_ERROR: 0x9,
  CONNECT_ERROR: 0xa, ENHANCE_YOUR_CALM: 0xb, INADEQUATE_SECURITY: 0xc, HTTP_1_1_REQUIRED: 0xd,
} as const;

export const Setting = {
  HEADER_TABLE_SIZE: 0x1, ENABLE_PUSH: 0x2, MAX_CONCURRENT_STREAMS: 0x3, INITIAL_WINDOW_SIZE: 0x4,
  MAX_FRAME_SIZE: 0x5, MAX_HEADER_LIST_SIZE: 0x6,
} as const;

/** A connection error: the connection ends with GOAWAY carrying `code`. */
export class H2ConnectionError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/** A stream error: only that stream ends, with RST_STREAM carrying `code`. */
export class H2StreamError extends Error {
  constructor(readonly streamId: number, readonly code: number, message: string) {
    super(message);
  }
}

/** Writes a frame header at the start of `into`. */
function writeFrameHeader(into: Buffer, length: number, type: number, flags: number, streamId: number): void {
  into.writeUIntBE(length, 0, 3);
  into[3] = type;
  into[4] = flags;
  into.writeUInt32BE(streamId, 5);
}

/** A frame header alone, for a payload written after it. */
export function frameHeader(length: number, type: number, flags: number, streamId: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  writeFrameHeader(h, length, type, flags, streamId);
  return h;
}

/** A whole frame in one buffer (control frames and small DATA): header and payload copied together. */
export function frame(type: number, flags: number, streamId: number, payload?: Buffer): Buffer {
  const length = payload?.length ?? 0;
  const whole = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length);
  writeFrameHeader(whole, length, type, flags, streamId);
  payload?.copy(whole, FRAME_HEADER_BYTES);
  return whole;
}

/** NO_ERROR and CANCEL end a stream without a failure (the peer is done, or no longer interested). */
export function isCleanReset(code: number | undefined): boolean {
  return code === ErrorCode.NO_ERROR || code === ErrorCode.CANCEL;
}

export interface FrameHandler {
  /** A complete non-DATA frame, or a DATA frame that was padded (payload still includes the padding). */
  onFrame(type: number, flags: number, streamId: number, payload: Buffer): void;
  /** The header of an unpadded DATA frame, before its payload. */
  onDataStart(streamId: number, length: number): void;
  /** A piece of the current unpadded DATA frame's payload (a view into the read buffer). */
  onDataPiece(streamId: number, piece: Buffer): void;
  /** The current unpadded DATA frame is complete. */
  onDataEnd(streamId: number, flags: number): void;
}

/** Splits the byte stream after the preface into frames. Throws H2ConnectionError on a frame over `maxFrameSize`. */
export class FrameParser {
  readonly #handler: FrameHandler;
  readonly #maxFrameSize: number;
  readonly #header = Buffer.alloc(FRAME_HEADER_BYTES);
  #headerFill = 0;
  /** Current frame, once its header is complete. */
  #length = 0;
  #type = 0;
  #flags = 0;
  #streamId = 0;
  #remaining = -1;
  #streamingData = false;
  #payload: Buffer | undefined;

  constructor(handler: FrameHandler, maxFrameSize: number) {
    this.#handler = handler;
    this.#maxFrameSize = maxFrameSize;
  }

  push(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.#remaining < 0) {
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFill, chunk.length - at);
        chunk.copy(this.#header, this.#headerFill, at, at + take);
        this.#headerFill += take;
        at += take;
        if (this.#headerFill < FRAME_HEADER_BYTES) return;
        this.#headerFill = 0;
        this.#startFrame();
        if (this.#remaining === 0) this.#endFrame();
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - at);
      if (this.#streamingData) this.#handler.onDataPiece(this.#streamId, chunk.subarray(at, at + take));
      else chunk.copy(this.#payload!, this.#length - this.#remaining, at, at + take);
      at += take;
      this.#remaining -= take;
      if (this.#remaining === 0) this.#endFrame();
    }
  }

  #startFrame(): void {
    const h = this.#header;
    this.#length = h.readUIntBE(0, 3);
    this.#type = h[3];
    this.#flags = h[4];
    this.#streamId = h.readUInt32BE(5) & 0x7fffffff;
    if (this.#length > this.#maxFrameSize) {
      throw new H2ConnectionError(ErrorCode.FRAME_SIZE_ERROR, `frame of ${this.#length} bytes exceeds the maximum frame size ${this.#maxFrameSize}`);
    }
    this.#remaining = this.#length;
    this.#streamingData = this.#type === FrameType.DATA && !(this.#flags & Flag.PADDED);
    if (this.#streamingData) {
      this.#payload = undefined;
      this.#handler.onDataStart(this.#streamId, this.#length);
    } else {
      this.#payload = Buffer.allocUnsafe(this.#length);
    }
  }

  #endFrame(): void {
    this.#remaining = -1;
    if (this.#streamingData) this.#handler.onDataEnd(this.#streamId, this.#flags);
    else this.#handler.onFrame(this.#type, this.#flags, this.#streamId, this.#payload!);
  }
}
