// The `ambit` process entry point: reads argv/env once and hands them to the CLI (the composition root).
process.stdout.write('ambit: skeleton\n');
