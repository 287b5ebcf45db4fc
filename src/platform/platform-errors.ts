// Errors raised by the platform layer: bad arguments, failed syscalls, failed commands, a missing native addon.
import { MeshError } from '../lib/errors.js';

/** An argument was rejected before reaching the kernel; the message names the function, field and reason. */
export class PlatformArgumentError extends MeshError {
  constructor(message: string) {
    super('PLATFORM_BAD_ARGUMENT', message);
  }
}

/**
 * A system call made by the native addon failed. `sysCode` is the errno name (`EADDRINUSE`, `ECONNREFUSED`, …),
 * `step` the call that failed (`setns`, `bind`, `connect`, `getsockopt SO_ORIGINAL_DST`, `recvmsg`, …).
 */
export class SyscallError extends MeshError {
  readonly sysCode: string;
  readonly step: string;
  constructor(context: string, sysCode: string, step: string, detail: string, options?: { cause?: unknown }) {
    super('PLATFORM_SYSCALL', `${context}: ${detail}`, options);
    this.sysCode = sysCode;
    this.step = step;
  }
}

/** An external command (`ip`, `nft`, …) failed to start, exited non-zero, or timed out. */
export class CommandError extends MeshError {
  readonly argv: readonly string[];
  readonly exitCode: number | null;
  readonly stderr: string;
  constructor(argv: readonly string[], exitCode: number | null, stderr: string, reason: string, options?: { cause?: unknown }) {
    const detail = stderr.trim() ? `: ${stderr.trim()}` : '';
    super('PLATFORM_COMMAND_FAILED', `command failed: ${argv.join(' ')} (${reason})${detail}`, options);
    this.argv = argv;
    this.exitCode = exitCode;
    this.stderr = stderr;
  }
}

/** The N-API addon (native/build/Release/ambit_net.node) was not built or could not be loaded. */
export class NativeAddonMissingError extends MeshError {
  constructor(detail: string, options?: { cause?: unknown }) {
    super('PLATFORM_NATIVE_MISSING', `native addon missing: run npm install (needs g++ and python3); ${detail}`, options);
  }
}
