// The requests a waypoint makes for itself — fetching an issuer's keys, asking an HTTP external authorizer — with one
// set of bounds: an answer within `timeoutMs`, at most `maxBytes` of body kept. Through the mesh when given an agent
// (its connections are HBONE streams, Upstreams.h1Agent), else straight to `host:port`.
import http from 'node:http';

export interface SideAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function sideRequest(o: {
  method: string;
  path: string;
  headers: http.OutgoingHttpHeaders;
  timeoutMs: number;
  maxBytes: number;
  agent?: http.Agent;
  host?: string;
  port?: number;
  /** A body over `maxBytes` fails the request (else it is cut short). */
  failOverMax?: boolean;
}): Promise<SideAnswer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ method: o.method, path: o.path, headers: o.headers, setHost: false, ...(o.agent ? { agent: o.agent } : { host: o.host, port: o.port }) }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= o.maxBytes) chunks.push(c);
        else if (o.failOverMax) req.destroy(new Error(`answered more than ${o.maxBytes} bytes`));
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs, () => req.destroy(new Error(`no answer within ${o.timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
