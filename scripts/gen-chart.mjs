// Writes the Helm chart manifests/ambit from the built install objects (run `npm run build` first).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { chartFiles } = await import(join(root, 'dist/src/cli/install-chart.js'));
const version = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
for (const [path, text] of Object.entries(chartFiles(version))) {
  const file = join(root, 'manifests', 'ambit', path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  console.log(`wrote ${file}`);
}
