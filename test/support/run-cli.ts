import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('./cli.ts', import.meta.url));
const root = fileURLToPath(new URL('../../', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Spawns `superconverge <args>` from the sources; resolves when it exits. */
export function runCli(args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; onStderr?: (chunk: string) => void; signalAfter?: { pattern: RegExp; signal: NodeJS.Signals } } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', entry, ...args], {
      cwd: opts.cwd ?? root,
      env: { ...process.env, FORCE_COLOR: '0', ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let signalled = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => {
      stderr += d;
      opts.onStderr?.(String(d));
      if (opts.signalAfter && !signalled && opts.signalAfter.pattern.test(stderr)) {
        signalled = true;
        child.kill(opts.signalAfter.signal);
      }
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
