// Lint: enforces the repository's import boundaries and process rules (ARCHITECTURE.md §8, STYLE.md).
// - components (controlplane, ztunnel, waypoint, nodeagent, sandbox) never import each other;
// - lib imports only Node and npm packages; api and platform import only lib;
// - the CLI imports api, lib and controlplane/client only; src/main.ts (composition root) may import anything;
// - only main.ts files read process.env / process.argv or call process.exit;
// - only platform/ spawns processes or loads the native addon; no console.* in src (use lib/log).
// Test files (*.test.ts) are exempt from the component rules (they may reach internals).
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { join, dirname, relative, resolve, sep } from 'node:path';

const SRC = resolve('src');
const COMPONENTS = ['controlplane', 'ztunnel', 'waypoint', 'nodeagent', 'sandbox'];
const ALLOWED = {
  lib: ['lib'],
  api: ['lib', 'api'],
  platform: ['lib', 'platform'],
  cli: ['api', 'lib', 'cli', 'controlplane/client'],
  'controlplane/client': ['api', 'lib', 'controlplane/client'],
  controlplane: ['api', 'lib', 'platform', 'controlplane'],
  ztunnel: ['api', 'lib', 'platform', 'ztunnel'],
  waypoint: ['api', 'lib', 'platform', 'waypoint'],
  nodeagent: ['api', 'lib', 'platform', 'nodeagent'],
  sandbox: ['api', 'lib', 'platform', 'sandbox', 'controlplane/client'],
  proto: ['proto'],
};

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

// The area a path under src/ belongs to: 'lib', 'api', 'controlplane/client', 'controlplane', ..., or 'root'.
function areaOf(abs) {
  const rel = relative(SRC, abs).split(sep);
  if (rel[0] === '..') return rel.includes('proto') ? 'proto' : 'outside';
  if (rel.length === 1) return 'root';
  if (rel[0] === 'controlplane' && rel[1] === 'client') return 'controlplane/client';
  return rel[0];
}

function permitted(from, to) {
  if (to === 'outside') return false;
  if (from === 'root') return true;
  // Generated protobuf code (proto/gen) is wire vocabulary: anything but the resource model may use it.
  if (to === 'proto') return from !== 'api';
  const allow = ALLOWED[from] ?? [];
  if (allow.includes(to)) return true;
  // A component may use its own client subpath.
  return to === 'controlplane/client' && allow.includes('controlplane');
}

const problems = [];
const importRe = /(?:^|[\s;])(?:import|export)\s[^'"`]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;
for (const file of walk(SRC)) {
  const text = readFileSync(file, 'utf8');
  const rel = relative(process.cwd(), file);
  const isTest = file.endsWith('.test.ts');
  const isMain = file.endsWith(`${sep}main.ts`);
  const from = areaOf(file);
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
  if (!isTest) {
    for (const m of code.matchAll(importRe)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (!spec.startsWith('.')) continue;
      const to = areaOf(resolve(dirname(file), spec));
      if (!permitted(from, to)) problems.push(`${rel}: ${from} may not import ${to} ('${spec}')`);
    }
    if (!isMain && /process\.(env|argv|exit)\b/.test(code)) {
      problems.push(`${rel}: only main.ts may read process.env/argv or call process.exit`);
    }
    if (from !== 'platform' && from !== 'root' && /from\s+['"](node:)?child_process['"]/.test(code)) {
      problems.push(`${rel}: only src/platform may spawn processes`);
    }
    if (/\bconsole\.(log|error|warn|info|debug)\(/.test(code)) {
      problems.push(`${rel}: console.* is not allowed in src (use lib/log or write to a stream)`);
    }
  }
  if (!/^\s*\/\//.test(text) && !/^\s*\/\*/.test(text)) {
    problems.push(`${rel}: every module starts with a one-line header comment saying what it is`);
  }
}

if (problems.length) {
  process.stderr.write(`lint: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('lint: import boundaries and process rules hold\n');
