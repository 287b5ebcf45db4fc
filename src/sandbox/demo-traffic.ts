// Traffic the demo sends between its pods: commands run inside a pod's netns (what `ambit exec` does), with a result
// that says what came back or why the connection failed — never a fake success.
import { join } from 'node:path';
import type { KubeObject } from '../api/index.js';
import { kindByName } from '../api/index.js';
import type { ApiClient } from '../controlplane/client/index.js';
import { describeError } from '../lib/errors.js';
import { CommandError, runIn } from '../platform/index.js';
import { POD_NETNS_ANNOTATION } from '../lib/mesh-contract.js';

export type ProbeResult = { ok: true; output: string } | { ok: false; error: string };

const POD = kindByName('Pod')!;

/** The netns of a running pod (from the sandbox's annotation). */
export async function podNetnsOf(api: ApiClient, namespace: string, pod: string): Promise<string> {
  const obj: KubeObject = await api.get(POD, namespace, pod);
  const netns = obj.metadata.annotations?.[POD_NETNS_ANNOTATION];
  if (!netns) throw new Error(`pod ${namespace}/${pod} is not running in the sandbox yet (no netns annotation)`);
  return netns;
}

/** Runs `argv` in `netns`; the output on exit 0, else the last line of stderr (or the exit reason). */
export async function runInPod(netns: string, argv: string[], timeoutMs = 8000): Promise<ProbeResult> {
  try {
    const r = await runIn(netns, argv, { timeoutMs });
    return { ok: true, output: r.stdout.trim() };
  } catch (err) {
    if (err instanceof CommandError) {
      const last = err.stderr.trim().split('\n').filter(Boolean).pop();
      return { ok: false, error: last ?? `exit ${err.exitCode ?? 'killed'}` };
    }
    return { ok: false, error: describeError(err) };
  }
}

/** The argv of an HTTP GET with curl (3 s limit, errors on stderr, HTTP errors are failures). */
export function curlArgv(url: string): string[] {
  return ['curl', '-sS', '--fail', '--max-time', '3', url];
}

/** The argv of the sample TCP client (examples/apps/tcp-client.mjs) run with `nodeBinary`. */
export function tcpClientArgv(nodeBinary: string, repoDir: string, host: string, port: number, message?: string): string[] {
  return [nodeBinary, join(repoDir, 'examples', 'apps', 'tcp-client.mjs'), host, String(port), ...(message === undefined ? [] : [message])];
}

/** Retries `probe` until it succeeds or `timeoutMs` passes (apps may still be starting); the last result. */
export async function retryProbe(probe: () => Promise<ProbeResult>, timeoutMs: number, everyMs = 300): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe();
    if (r.ok || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, everyMs));
  }
}

/** Retries `probe` until it FAILS (a policy took effect) or `timeoutMs` passes; the last result. */
export async function retryUntilRefused(probe: () => Promise<ProbeResult>, timeoutMs: number, everyMs = 300): Promise<ProbeResult> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await probe();
    if (!r.ok || Date.now() > deadline) return r;
    await new Promise((res) => setTimeout(res, everyMs));
  }
}
