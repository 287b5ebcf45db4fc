// Lint: enforces the repository's import boundaries and process rules (ARCHITECTURE.md §8, STYLE.md).
// - components (controlplane, ztunnel, waypoint, nodeagent, sandbox) never import each other;
// - lib imports only Node and npm packages; api, platform and hbone import only lib; routing imports api and lib;
// - the CLI imports api, lib and controlplane/client only; src/main.ts (composition root) may import anything;
// - only main.ts files read process.env / process.argv or call process.exit;
// - only platform/ spawns processes or loads the native addon; no console.* in src (use lib/log).
// - the mesh contract (src/lib/mesh-contract.ts, SPIFFE ids in src/lib/certs/spiffe-id.ts) is declared once: any
//   other module that writes one of its values as a literal fails (import the constant instead);
// - class members are private with `#name`, never the `private` keyword (one style; `private constructor` excepted).
// Test files (*.test.ts) are exempt from the component and contract rules (they may reach internals and spell
// out expected values). Run from the repository root; it lints `./src`.
import { readdirSync, statSync, readFileSync } from 'node:fs';
import { join, dirname, relative, resolve, sep } from 'node:path';
import ts from 'typescript';

const SRC = resolve('src');
const COMPONENTS = ['controlplane', 'ztunnel', 'waypoint', 'nodeagent', 'sandbox'];
const ALLOWED = {
  lib: ['lib'],
  api: ['lib', 'api'],
  platform: ['lib', 'platform'],
  cli: ['api', 'lib', 'cli', 'controlplane/client', 'authz'],
  'controlplane/client': ['api', 'lib', 'controlplane/client'],
  controlplane: ['api', 'lib', 'platform', 'routing', 'controlplane'],
  // The L7 routing engine (pure): the waypoint enforces it, the control plane reports its verdicts in route status.
  routing: ['api', 'lib', 'routing'],
  // L7 AuthorizationPolicy (pure): the waypoint enforces it, `ambit x authz check` explains it.
  authz: ['lib', 'authz'],
  // HBONE (protocol, client, server, pool, byte copy, data-path errors) is shared by the two proxies.
  hbone: ['lib', 'hbone'],
  ztunnel: ['api', 'lib', 'platform', 'hbone', 'ztunnel'],
  waypoint: ['api', 'lib', 'platform', 'hbone', 'routing', 'authz', 'waypoint'],
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

// --- the mesh contract ---
const CONTRACT_FILES = [join(SRC, 'lib', 'mesh-contract.ts'), join(SRC, 'lib', 'certs', 'spiffe-id.ts')];
// Contract constants whose values are ordinary words, masks or durations (15000 is also a 15 s timeout): written
// elsewhere for other reasons all the time.
const NOT_UNIQUE = new Set(['DATAPLANE_MODE_AMBIENT', 'DATAPLANE_MODE_NONE', 'MARK_MASK', 'DEFAULT_TRUST_DOMAIN', 'PORT_PROXY_ADMIN']);

/** `export const NAME = <string or number literal>` of the contract files: value → { name, file }. */
function contractValues() {
  const out = new Map();
  for (const file of CONTRACT_FILES) {
    const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    for (const st of sf.statements) {
      if (!ts.isVariableStatement(st) || !st.modifiers?.some((m) => m.kind === ts.SyntaxKind.ExportKeyword)) continue;
      for (const d of st.declarationList.declarations) {
        const name = d.name.getText(sf);
        if (!d.initializer || NOT_UNIQUE.has(name)) continue;
        if (ts.isStringLiteral(d.initializer)) out.set(`s:${d.initializer.text}`, { name, file });
        else if (ts.isNumericLiteral(d.initializer)) out.set(`n:${Number(d.initializer.text)}`, { name, file });
      }
    }
  }
  return out;
}
const CONTRACT = contractValues();
// The ZDS socket file name and the start of a SPIFFE id built by hand are contract too (both live in functions).
CONTRACT.set('s:zds.sock', { name: 'defaultZdsSocketPath', file: CONTRACT_FILES[0] });

/** Literals in `sf` that spell a contract value, and `private` members: one problem line each. */
function contractProblems(sf, rel) {
  const found = [];
  const at = (node) => `${rel}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1}`;
  const visit = (node) => {
    let key;
    // A SPIFFE id written by hand (a literal or template starting with the scheme, no spaces: not prose).
    const handMadeId = (t) => t.startsWith('spiffe://') && !/\s/.test(t);
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) key = handMadeId(node.text) ? 's:spiffe://' : `s:${node.text}`;
    else if (ts.isNumericLiteral(node)) key = `n:${Number(node.text)}`;
    else if (ts.isTemplateHead(node) && handMadeId(node.text)) key = 's:spiffe://';
    const hit = key && CONTRACT.get(key);
    if (hit) {
      found.push(`${at(node)}: ${node.getText(sf)} is a mesh contract value: import ${hit.name} from ${relative(process.cwd(), hit.file)} instead of declaring it again`);
    }
    // `private constructor` (a static factory only) has no ES equivalent: allowed.
    if (node.kind === ts.SyntaxKind.PrivateKeyword && !ts.isConstructorDeclaration(node.parent)) found.push(`${at(node)}: use a #private member instead of the 'private' keyword`);
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return found;
}
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
  if (!isTest && !CONTRACT_FILES.includes(file)) {
    problems.push(...contractProblems(ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true), rel));
  }
  if (!/^\s*\/\//.test(text) && !/^\s*\/\*/.test(text)) {
    problems.push(`${rel}: every module starts with a one-line header comment saying what it is`);
  }
}

if (problems.length) {
  process.stderr.write(`lint: ${problems.length} problem(s)\n${problems.map((p) => `  ${p}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('lint: import boundaries, the mesh contract and process rules hold\n');
