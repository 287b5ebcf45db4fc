// Structured JSON logging: one pino logger per component, every line tagged with `component`.
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

interface LogOptions {
  /** Minimum level: trace, debug, info, warn, error, fatal, silent. */
  level?: string;
  /** Where lines go; default stderr (stdout belongs to CLI output). */
  destination?: DestinationStream;
}

/** Redacted paths: private keys and bearer tokens must never reach a log line. */
const REDACT = ['privateKey', 'key', 'token', 'authorization', '*.privateKey', '*.key', '*.token', '*.authorization'];

/** Creates the root logger of a process role; children carry extra fields (`log.child({ conn })`). */
export function createLogger(component: string, opts: LogOptions = {}): Logger {
  const dest = opts.destination ?? pino.destination({ fd: 2, sync: false });
  return pino({ level: opts.level ?? 'info', base: { component }, redact: { paths: REDACT, censor: '[redacted]' } }, dest);
}

/** A logger that drops everything (tests, library defaults). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
