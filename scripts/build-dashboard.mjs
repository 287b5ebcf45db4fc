// Bundles the dashboard's front end (ui/dashboard) into dist/ui/dashboard with esbuild: one app.js with Cytoscape
// inside, the page and its stylesheet. Offline by construction: nothing is fetched from a CDN at run time.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';

const out = 'dist/ui/dashboard';
mkdirSync(out, { recursive: true });
await build({
  entryPoints: ['ui/dashboard/src/main.ts'],
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'iife',
  target: ['chrome110', 'firefox110', 'safari16'],
  outfile: `${out}/app.js`,
  logLevel: 'warning',
});
for (const f of ['index.html', 'app.css']) copyFileSync(`ui/dashboard/${f}`, `${out}/${f}`);
