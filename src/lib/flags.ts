// Command-line flag checks shared by every `ambit` verb that runs a component: log levels and HOST:PORT values,
// each refused with a message naming the flag and the value.
import { readFileSync } from 'node:fs';
import { MeshError } from './errors.js';

/** Log levels every component accepts (pino's). */
export const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export class FlagError extends MeshError {
  constructor(message: string) {
    super('FLAG_INVALID', message);
  }
}

/** Throws unless `value` is one of LOG_LEVELS. */
export function checkLogLevel(value: string, flag = '--log-level'): void {
  if (!LOG_LEVELS.includes(value)) throw new FlagError(`${flag} must be one of ${LOG_LEVELS.join(', ')}, got "${value}"`);
}

/** `host:port` or `[v6]:port` → its parts; port 0 ("pick a free one") only where `allowPortZero`. */
export function parseHostPort(value: string, flag: string, opts: { allowPortZero?: boolean } = {}): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  const min = opts.allowPortZero ? 0 : 1;
  if (!m || port < min || port > 65535) throw new FlagError(`${flag} must be HOST:PORT (e.g. 127.0.0.1:15014), got "${value}"`);
  return { host: m[1] ?? m[2]!, port };
}

/** The bearer token in `file` (trimmed); a FlagError naming `flag` when there is no file, or it is unreadable or empty. */
export function readTokenFile(file: string | undefined, flag: string): string {
  if (!file) throw new FlagError(`${flag} needs --token-file FILE (the bearer token clients must present)`);
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch (err) {
    throw new FlagError(`cannot read the token file ${file}: ${(err as Error).message}`);
  }
  if (!token) throw new FlagError(`the token file ${file} is empty`);
  return token;
}
