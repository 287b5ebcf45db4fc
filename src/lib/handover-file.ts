// The restart handover file a node's ztunnel processes and the sandbox supervisor share: one line `<state> <pid>`.
// A ztunnel writes `ready <pid>` once it serves every pod and `draining <pid>` when asked to stop; the supervisor
// starts a replacement when the process it runs says `draining`, and writes `stopping 0` before a final stop (no
// replacement will come). A draining ztunnel keeps its listeners until another process says `ready`, so the pods'
// ports always have a listener.
import { readFileSync } from 'node:fs';
import { writeFileDurableSync } from './durable-file.js';

type HandoverState = 'ready' | 'draining' | 'stopping';

interface HandoverRecord {
  state: HandoverState;
  pid: number;
}

const LINE = /^(ready|draining|stopping) (\d+)\n?$/;

/** The current record, or undefined when the file is absent or not (yet) a record. */
export function readHandover(path: string): HandoverRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const m = LINE.exec(text);
  return m ? { state: m[1] as HandoverState, pid: Number(m[2]) } : undefined;
}

/** Replaces the record atomically (readers never see half a line; concurrent writers: the last rename wins). */
export function writeHandover(path: string, record: HandoverRecord): void {
  writeFileDurableSync(path, `${record.state} ${record.pid}\n`, 0o644);
}

type HandoverOutcome = 'successor-ready' | 'no-successor' | 'timeout';

/**
 * Waits until another process than `pid` says `ready` (the replacement took over), the supervisor says
 * `stopping` (none will come), or `timeoutMs` passed.
 */
export async function waitForSuccessor(path: string, pid: number, timeoutMs: number, pollMs = 50): Promise<HandoverOutcome> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = readHandover(path);
    if (r?.state === 'ready' && r.pid !== pid) return 'successor-ready';
    if (r?.state === 'stopping') return 'no-successor';
    if (Date.now() >= deadline) return 'timeout';
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
