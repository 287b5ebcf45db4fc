// Lint: lists exports of src/ that no other module imports (tests and benchmarks count as importers), so dead API
// surface does not accumulate. Part of `npm run lint`; exits 1 when it finds any. Resolves `export * from` and
// `export { x } from` re-exports (barrels) to the declaring module; `import * as ns` counts the `ns.name` it uses.
// The composition root (src/main.ts) is an entry point: its exports count as used.
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = process.cwd();
const DIRS = ['src', 'test', 'bench'].map((d) => join(ROOT, d)).filter((d) => existsSync(d));
const ENTRY_POINTS = new Set([join(ROOT, 'src', 'main.ts')]);

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** './x.js' from `file` → the .ts path, or undefined for packages and generated code outside the walked dirs. */
function resolveSpec(file, spec) {
  if (!spec.startsWith('.')) return undefined;
  const p = resolve(dirname(file), spec).replace(/\.js$/, '.ts');
  return existsSync(p) ? p : undefined;
}

const hasExport = (n) => (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);

// Per module: own exported names (name → line), re-exports, and what it imports from others.
const modules = new Map();
for (const file of DIRS.flatMap(walk)) {
  const sf = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const m = { own: new Map(), star: [], named: new Map(), namedLines: new Map(), uses: [] };
  modules.set(file, m);
  const line = (n) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  for (const st of sf.statements) {
    if (ts.isVariableStatement(st) && hasExport(st)) {
      for (const d of st.declarationList.declarations) if (ts.isIdentifier(d.name)) m.own.set(d.name.text, line(d));
    } else if ((ts.isFunctionDeclaration(st) || ts.isClassDeclaration(st) || ts.isInterfaceDeclaration(st) || ts.isTypeAliasDeclaration(st) || ts.isEnumDeclaration(st)) && hasExport(st) && st.name) {
      m.own.set(st.name.text, line(st));
    } else if (ts.isExportDeclaration(st)) {
      const target = st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) ? resolveSpec(file, st.moduleSpecifier.text) : undefined;
      if (!st.exportClause) {
        if (target) m.star.push(target);
      } else if (ts.isNamedExports(st.exportClause)) {
        for (const el of st.exportClause.elements) {
          const local = (el.propertyName ?? el.name).text;
          if (target) {
            m.named.set(el.name.text, { module: target, name: local });
            m.namedLines.set(el.name.text, line(el));
          }
          else m.own.set(el.name.text, line(el)); // `export { x }` of a local declaration
        }
      }
    }
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const target = resolveSpec(file, st.moduleSpecifier.text);
      const b = st.importClause?.namedBindings;
      if (target && b && ts.isNamedImports(b)) for (const el of b.elements) m.uses.push({ module: target, name: (el.propertyName ?? el.name).text });
      if (target && b && ts.isNamespaceImport(b)) {
        // `ns.name` uses one export; `ns` passed around as a value uses all of them.
        const ns = b.name.text;
        const body = sf.text.slice(st.getEnd());
        for (const hit of body.matchAll(new RegExp(`\\b${ns}\\.([A-Za-z_$][\\w$]*)`, 'g'))) m.uses.push({ module: target, name: hit[1] });
        if (new RegExp(`\\b${ns}\\b(?!\\.)`).test(body)) m.uses.push({ module: target, name: '*' });
      }
    }
  }
  // Dynamic imports: `const { a, b } = await import('./x.js')`, or the whole module when not destructured.
  const visit = (node) => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])) {
      const target = resolveSpec(file, node.arguments[0].text);
      if (target) {
        let p = node.parent;
        while (p && (ts.isAwaitExpression(p) || ts.isParenthesizedExpression(p))) p = p.parent;
        if (p && ts.isVariableDeclaration(p) && ts.isObjectBindingPattern(p.name)) {
          for (const el of p.name.elements) m.uses.push({ module: target, name: (el.propertyName ?? el.name).getText(sf) });
        } else m.uses.push({ module: target, name: '*' });
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
}

/**
 * Every module on the way from `module`'s export `name` to its declaration: the declaring module, and each
 * barrel whose named re-export (`export { x } from`) it passes (those entries are exports that can go unused too).
 */
function origins(module, name, seen = new Set()) {
  const m = modules.get(module);
  if (!m || seen.has(module)) return [];
  seen.add(module);
  if (m.own.has(name)) return [{ module, name }];
  const named = m.named.get(name);
  if (named) return [{ module, name }, ...origins(named.module, named.name, seen)];
  return m.star.flatMap((t) => origins(t, name, seen));
}

const used = new Set();
const markAll = (module, seen = new Set()) => {
  const m = modules.get(module);
  if (!m || seen.has(module)) return;
  seen.add(module);
  for (const n of m.own.keys()) used.add(`${module}#${n}`);
  for (const [n, r] of m.named) {
    used.add(`${module}#${n}`);
    for (const o of origins(r.module, r.name)) used.add(`${o.module}#${o.name}`);
  }
  for (const t of m.star) markAll(t, seen);
};
for (const [file, m] of modules) {
  for (const u of m.uses) {
    if (u.name === '*') markAll(u.module);
    else for (const o of origins(u.module, u.name)) if (o.module !== file) used.add(`${o.module}#${o.name}`);
  }
}
for (const e of ENTRY_POINTS) markAll(e);

const unused = [];
for (const [file, m] of modules) {
  if (!file.startsWith(join(ROOT, 'src'))) continue;
  for (const [name, line] of m.own) if (!used.has(`${file}#${name}`)) unused.push(`${relative(ROOT, file)}:${line}: ${name}`);
  for (const name of m.named.keys()) if (!used.has(`${file}#${name}`)) unused.push(`${relative(ROOT, file)}:${m.namedLines.get(name)}: ${name} (re-export)`);
}
if (unused.length) {
  process.stderr.write(`unused-exports: ${unused.length} export(s) no other module imports (remove the export, or the code):\n${unused.map((u) => `  ${u}`).join('\n')}\n`);
  process.exit(1);
}
process.stdout.write('unused-exports: every export of src/ is imported somewhere\n');
