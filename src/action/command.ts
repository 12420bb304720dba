/**
 * Runs the user's tuning command in a shell, streaming its output into a collapsible log group,
 * and stops it (the whole process group) when the timeout passes.
 */
import { spawn } from 'node:child_process';
import * as core from '@actions/core';

export interface CommandResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  seconds: number;
}

export interface RunCommandOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** 0 = no limit. */
  timeoutMinutes: number;
  /** Grace between SIGTERM and SIGKILL, so the SDK can write its interrupted report. */
  killGraceMs?: number;
}

export async function runCommand(command: string, options: RunCommandOptions): Promise<CommandResult> {
  const started = Date.now();
  return core.group(`superconverge: ${command}`, () =>
    new Promise<CommandResult>((resolve, reject) => {
      const shell = process.platform === 'win32' ? 'cmd.exe' : 'bash';
      const args = process.platform === 'win32' ? ['/d', '/s', '/c', command] : ['-eo', 'pipefail', '-c', command];
      // detached: the command gets its own process group, so a timeout stops its children too
      // (npx -> node -> workers), not only the shell.
      const child = spawn(shell, args, {
        cwd: options.cwd,
        env: options.env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: process.platform !== 'win32',
      });
      child.stdout.on('data', (d: Buffer) => process.stdout.write(d));
      child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
      let timedOut = false;
      let killTimer: NodeJS.Timeout | undefined;
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          if (child.pid && process.platform !== 'win32') process.kill(-child.pid, signal);
          else child.kill(signal);
        } catch {
          /* already gone */
        }
      };
      const timer =
        options.timeoutMinutes > 0
          ? setTimeout(() => {
              timedOut = true;
              core.error(`superconverge: command exceeded timeout-minutes (${options.timeoutMinutes}); stopping it`);
              signalGroup('SIGTERM');
              killTimer = setTimeout(() => signalGroup('SIGKILL'), options.killGraceMs ?? 10_000);
            }, options.timeoutMinutes * 60_000)
          : undefined;
      child.on('error', (e) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        reject(e);
      });
      child.on('close', (exitCode, signal) => {
        clearTimeout(timer);
        clearTimeout(killTimer);
        resolve({ exitCode, signal, timedOut, seconds: (Date.now() - started) / 1000 });
      });
    }),
  );
}
