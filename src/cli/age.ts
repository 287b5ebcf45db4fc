// kubectl's AGE column: a coarse human duration whose precision shrinks as the age grows (`5s`, `3m12s`, `2d4h`).

/**
 * Formats the time elapsed from `since` (RFC 3339) to `nowMs`. Follows kubectl's thresholds: seconds up to 2 minutes,
 * minutes+seconds below 10 minutes, minutes below 3 hours, hours+minutes below 8 hours, hours below 2 days,
 * days+hours below 8 days, days below 2 years, then years(+days). A clock skew of up to one second reads `0s`.
 */
export function formatAge(since: string | undefined, nowMs: number): string {
  if (!since) return '<unknown>';
  const t = Date.parse(since);
  if (Number.isNaN(t)) return '<unknown>';
  return humanDuration(nowMs - t);
}

/** The duration part of `formatAge`, for a span in milliseconds. */
export function humanDuration(ms: number): string {
  const seconds = Math.trunc(ms / 1000);
  if (seconds < -1) return '<invalid>';
  if (seconds < 0) return '0s';
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.trunc(seconds / 60);
  if (minutes < 10) return withRest(minutes, 'm', seconds % 60, 's');
  if (minutes < 180) return `${minutes}m`;
  const hours = Math.trunc(minutes / 60);
  if (hours < 8) return withRest(hours, 'h', minutes % 60, 'm');
  if (hours < 48) return `${hours}h`;
  const days = Math.trunc(hours / 24);
  if (hours < 24 * 8) return withRest(days, 'd', hours % 24, 'h');
  if (hours < 24 * 365 * 2) return `${days}d`;
  const years = Math.trunc(days / 365);
  if (hours < 24 * 365 * 8) return withRest(years, 'y', days % 365, 'd');
  return `${years}y`;
}

function withRest(major: number, majorUnit: string, minor: number, minorUnit: string): string {
  return minor === 0 ? `${major}${majorUnit}` : `${major}${majorUnit}${minor}${minorUnit}`;
}
