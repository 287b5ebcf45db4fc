// Test fixture for e2e tests: a real Kubernetes control plane from the build cache, driven with the built kubectl.
import { fileURLToPath } from 'node:url';
import { pollUntil } from './poll.js';
import { runCommand } from '../../platform/index.js';
import { KubeControlPlane } from '../kube/kube-control-plane.js';
import type { AfterHook } from './sandbox-fixture.js';

/** scripts/kube/build.sh, from dist/src/sandbox/testing/ (the compiled location of this file). */
const BUILD_SCRIPT = fileURLToPath(new URL('../../../../scripts/kube/build.sh', import.meta.url));

export class KubeFixture {
  readonly cp: KubeControlPlane;

  private constructor(cp: KubeControlPlane) {
    this.cp = cp;
  }

  /**
   * Starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler from the cache that scripts/kube/build.sh
   * fills (setup.sh runs it; this never builds, a cold build takes minutes); stopped when the test ends.
   */
  static async start(t: AfterHook): Promise<KubeFixture> {
    const { stdout } = await runCommand([BUILD_SCRIPT, '--print-dir']);
    const cp = await KubeControlPlane.start({ binDir: stdout.trim() });
    t.after(() => cp.stop());
    return new KubeFixture(cp);
  }

  /** Runs the built kubectl as the admin; rejects on a non-zero exit (the error carries stderr). */
  async kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
    const r = await runCommand([this.cp.bin('kubectl'), `--kubeconfig=${this.cp.kubeconfig}`, ...args], {
      input: opts.input,
      timeoutMs: opts.timeoutMs ?? 30_000,
    });
    return r.stdout;
  }

  /** `kubectl get … -o json`, parsed. */
  async getJson<T = { items: Array<Record<string, unknown>> }>(args: string[]): Promise<T> {
    return JSON.parse(await this.kubectl(['get', ...args, '-o', 'json'])) as T;
  }

  /** Polls `fn` until it returns a truthy value (returned) or `timeoutMs` passes (throws naming `what`). */
  async waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
    return pollUntil(what, fn, timeoutMs, everyMs);
  }
}
