// Process-lifetime helper for long-running roles: resolves when the process is asked to stop.

/** Resolves with the signal name on the first SIGTERM or SIGINT (a role's only way to stop), then stops listening. */
export function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string) => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      resolve(sig);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
}
