// Unit tests: runCommand's results and the CommandError messages for each way a command can fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCommand } from './command.js';
import { CommandError, PlatformArgumentError } from './platform-errors.js';

test('stdout and stderr of a successful command; stdin is passed through', async () => {
  const r = await runCommand(['sh', '-c', 'cat; echo warn >&2'], { input: 'from-stdin' });
  assert.equal(r.stdout, 'from-stdin');
  assert.equal(r.stderr, 'warn\n');
});

test('a non-zero exit names the command, the status and its stderr', async () => {
  await assert.rejects(runCommand(['sh', '-c', 'echo boom >&2; exit 3']), (err: unknown) =>
    err instanceof CommandError && err.code === 'PLATFORM_COMMAND_FAILED' && err.exitCode === 3 &&
    err.message === 'command failed: sh -c echo boom >&2; exit 3 (exit 3): boom' && err.stderr === 'boom\n');
});

test('a missing program and a timeout are reported as such', async () => {
  await assert.rejects(runCommand(['/nonexistent/ambit-no-such-binary', '--version']), (err: unknown) =>
    err instanceof CommandError && err.message ===
      'command failed: /nonexistent/ambit-no-such-binary --version (/nonexistent/ambit-no-such-binary not found (is it installed and on PATH?))');
  await assert.rejects(runCommand(['sleep', '5'], { timeoutMs: 100 }), (err: unknown) =>
    err instanceof CommandError && err.message === 'command failed: sleep 5 (timed out after 100 ms)');
});

test('an empty argv is refused before anything runs', async () => {
  await assert.rejects(runCommand([]), PlatformArgumentError);
});
