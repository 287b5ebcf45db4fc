#!/usr/bin/env node
// The `ambit` executable: loads the compiled entry point (run `npm run build` first).
import('../dist/src/main.js').catch((err) => {
  process.stderr.write(`ambit: cannot start (${err && err.message}); did you run "npm run build"?\n`);
  process.exit(1);
});
