// A reader for Prometheus' text exposition format (version 0.0.4), the format every ztunnel and waypoint serves on
// /stats/prometheus: one sample per line, `name{label="value",…} value [timestamp]`, `#` lines skipped. Only the
// families asked for are kept, so a scrape costs little beyond reading the text.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parseValue(text: string): number {
  if (text === '+Inf' || text === 'Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  const v = Number(text);
  if (text === '' || Number.isNaN(v)) throw new Error(`'${text}' is not a sample value`);
  return v;
}

/** `{a="x",b="y\"z"}` starting at `i` (the `{`): the labels and the index after the `}`. */
function parseLabels(line: string, i: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  i++;
  for (;;) {
    while (line[i] === ' ' || line[i] === ',') i++;
    if (line[i] === '}') return { labels, end: i + 1 };
    const eq = line.indexOf('=', i);
    if (eq < 0 || line[eq + 1] !== '"') throw new Error('a label is not name="value"');
    const name = line.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        const next = line[++j];
        value += next === 'n' ? '\n' : next;
      } else value += line[j];
    }
    if (j >= line.length) throw new Error('unterminated label value');
    labels[name] = value;
    i = j + 1;
  }
}

/**
 * The samples of `text` whose metric name passes `keep`. A malformed line is skipped and counted (a proxy of
 * another version must not blank the dashboard), as the second result.
 */
export function parsePrometheusText(text: string, keep: (name: string) => boolean): { samples: Sample[]; malformed: number } {
  const samples: Sample[] = [];
  let malformed = 0;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const brace = line.indexOf('{');
    const space = line.indexOf(' ');
    const nameEnd = brace >= 0 && (space < 0 || brace < space) ? brace : space;
    if (nameEnd <= 0) {
      malformed++;
      continue;
    }
    const name = line.slice(0, nameEnd);
    if (!keep(name)) continue;
    try {
      let labels: Record<string, string> = {};
      let rest = nameEnd;
      if (line[nameEnd] === '{') ({ labels, end: rest } = parseLabels(line, nameEnd));
      const fields = line.slice(rest).trim().split(/\s+/);
      samples.push({ name, labels, value: parseValue(fields[0] ?? '') });
    } catch {
      malformed++;
    }
  }
  return { samples, malformed };
}
