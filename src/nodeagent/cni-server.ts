// The node agent's side of the CNI plugin (src/lib/cni-report.ts): a Unix socket (0600) where the plugin's
// executable forwards each invocation; the agent decides it (cni-plugin.ts), which records "pod X's netns is N" on
// ADD and "pod X is gone" on DEL. The agent then captures pods by these netns instead of the sandbox's annotation.
// Only netns under the system's netns directory are accepted (that is where runtimes create them, and where the
// agent's nft and socket calls find them by name).
import { chmodSync, rmSync } from 'node:fs';
import net from 'node:net';
import { basename, dirname, resolve } from 'node:path';
import type { CniInvocation, CniReply, CniReport } from '../lib/cni-report.js';
import { runCniPlugin, type PluginOutcome } from './cni-plugin.js';
import { describeError } from '../lib/errors.js';
import type { Logger } from '../lib/log.js';
import { NETNS_DIR } from '../platform/index.js';

/** Largest invocation line accepted (the plugin reads at most 1 MiB of config; escaping can grow it). */
const MAX_LINE = 8 * 1024 * 1024;

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
    const answer = (o: PluginOutcome) => sock.end(`${o.code}\n${o.stdout}`);
    sock.setEncoding('utf8');
    sock.on('error', () => undefined);
    sock.on('data', (d: string) => {
      buf += d;
      if (buf.length > MAX_LINE) return answer({ code: 1, stdout: `${JSON.stringify({ cniVersion: '1.0.0', code: 7, msg: 'ambit-cni: the invocation is too large' })}\n` });
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      sock.removeAllListeners('data');
      let call: CniInvocation['invoke'];
      try {
        call = (JSON.parse(buf.slice(0, nl)) as CniInvocation).invoke;
        if (typeof call?.stdin !== 'string' || typeof call.env !== 'object' || call.env === null) throw new Error('expected {"invoke":{"env":{...},"stdin":"..."}}');
      } catch (err) {
        return answer({ code: 1, stdout: `${JSON.stringify({ cniVersion: '1.0.0', code: 7, msg: `ambit-cni: malformed invocation: ${describeError(err)}` })}\n` });
      }
      answer(runCniPlugin({ env: call.env, stdin: call.stdin, report: (r) => this.#handle(r) }));
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
    // /var/run is /run on every current distribution; runtimes name either.
    if (![resolve(NETNS_DIR), '/var/run/netns', '/run/netns'].includes(dirname(path))) {
      return { ok: false, error: `netns ${r.netns} is not under ${NETNS_DIR}: the node agent captures only named network namespaces` };
    }
    this.#byPod.set(pod, basename(path));
    this.#log.info({ pod, netns: basename(path), ips: r.ips }, 'CNI: pod network reported');
    this.#onChange();
    return { ok: true };
  }
}
