// A plain-text HTTP error written straight onto a socket that never became an HTTP exchange in Node's sense (a
// CONNECT head read by hand, an upgrade refused): the kubelet API and the cluster egress proxy both answer so.
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** Writes `HTTP/1.1 <status> <reason>` with `message` as the body, then ends the socket. */
export function endWithHttpError(socket: Duplex, status: number, message: string): void {
  const body = `${message}\n`;
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}
