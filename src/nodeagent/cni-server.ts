// The node agent's side of the CNI report (src/lib/cni-report.ts): a Unix socket (0600) where the chained plugin
// says "pod X's netns is N" on ADD and "pod X is gone" on DEL. The agent then captures pods by these netns instead
// of the sandbox's annotation. Only netns under the system's netns directory are accepted (that is where runtimes
// create them, and where the agent's nft and socket calls find them by name).
import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import { basename, dirname, resolve } from 'node:path';
import type { CniReply, CniReport } from '../lib/cni-report.js';
import { describeError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { NETNS_DIR } from '../platform/index.js';

/** Largest report line accepted (a pod's report is a few hundred bytes). */
const MAX_LINE = 64 * 1024;

export class CniReportServer {
  readonly #byPod = new Map<string, string>();
  readonly #server: net.Server;
  readonly #socketPath: string;
  readonly #log: Logger;
  readonly #onChange: () => void;

  private constructor(socketPath: string, log: Logger, onChange: () => void) {
    this.#socketPath = socketPath;
    this.#log = log;
    this.#onChange = onChange;
    this.#server = net.createServer((sock) => this.#serve(sock));
  }

  static async start(socketPath: string, log: Logger, onChange: () => void): Promise<CniReportServer> {
    const s = new CniReportServer(socketPath, log, onChange);
    rmSync(socketPath, { force: true });
    await new Promise<void>((res, rej) => {
      s.#server.once('error', rej);
      s.#server.listen(socketPath, () => res());
    });
    chmodSync(socketPath, 0o600);
    log.info({ socket: socketPath }, 'CNI report socket listening');
    return s;
  }

  /** The netns name (under NETNS_DIR) the plugin reported for this pod, if any. */
  netnsOf(namespace: string, name: string): string | undefined {
    return this.#byPod.get(`${namespace}/${name}`);
  }

  close(): void {
    this.#server.close();
    rmSync(this.#socketPath, { force: true });
  }

  #serve(sock: net.Socket): void {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_LINE) return void sock.end(`${JSON.stringify({ ok: false, error: 'report too large' } satisfies CniReply)}\n`);
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      let reply: CniReply;
      try {
        reply = this.#handle(JSON.parse(buf.slice(0, nl)) as CniReport);
      } catch (err) {
        reply = { ok: false, error: `malformed report: ${describeError(err)}` };
      }
      sock.end(`${JSON.stringify(reply)}\n`);
    });
  }

  #handle(r: CniReport): CniReply {
    const pod = `${r.podNamespace}/${r.podName}`;
    if (!r.podNamespace || !r.podName) return { ok: false, error: 'the report names no pod (K8S_POD_NAMESPACE/K8S_POD_NAME missing)' };
    if (r.command === 'DEL') {
      if (this.#byPod.delete(pod)) this.#onChange();
      this.#log.info({ pod }, 'CNI: pod network removed');
      return { ok: true };
    }
    if (r.command !== 'ADD') return { ok: false, error: `unknown command ${String(r.command)}` };
    const path = resolve(String(r.netns ?? ''));
    if (dirname(path) !== resolve(NETNS_DIR) && dirname(path) !== resolve('/var/run/netns')) {
      return { ok: false, error: `netns ${r.netns} is not under ${NETNS_DIR}: the node agent captures only named network namespaces` };
    }
    this.#byPod.set(pod, basename(path));
    this.#log.info({ pod, netns: basename(path), ips: r.ips }, 'CNI: pod network reported');
    this.#onChange();
    return { ok: true };
  }
}
