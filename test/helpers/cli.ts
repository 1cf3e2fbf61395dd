import { ChildProcess, execFile, spawn } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';

export const REPO_ROOT = path.join(__dirname, '..', '..');
const LAUNCHER = path.join(REPO_ROOT, 'scripts', 'run-ts.cjs');

/** A clean environment for a CLI under test: no AWS profile or key of the developer leaks in. */
export const cliEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({ PATH: process.env.PATH, HOME: process.env.HOME, ...extra });

/** Runs a kit CLI to completion the way `npm run` does (through scripts/run-ts.cjs). */
export function runCli(script: string, args: string[], env: NodeJS.ProcessEnv = cliEnv()) {
  return promisify(execFile)(process.execPath, [LAUNCHER, script, ...args], { cwd: REPO_ROOT, env, timeout: 60000 });
}

export interface RunningCli {
  readonly child: ChildProcess;
  /** The match of the `ready` pattern in the start banner. */
  readonly match: RegExpExecArray;
  /** What the CLI printed on stderr so far. */
  stderr(): string;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
}

/** Starts a long-running kit CLI and waits until its stderr matches `ready` (its start banner). */
export async function startCli(script: string, args: string[], ready: RegExp, env: NodeJS.ProcessEnv = cliEnv()): Promise<RunningCli> {
  const child = spawn(process.execPath, [LAUNCHER, script, ...args], { cwd: REPO_ROOT, env });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const match = await new Promise<RegExpExecArray>((resolve, reject) => {
    child.stderr!.on('data', (d) => {
      err += d;
      const m = ready.exec(err);
      if (m) resolve(m);
    });
    void exited.then((code) => reject(new Error(`${script} exited ${code} before it was ready: ${err}`)));
  });
  return {
    child,
    match,
    stderr: () => err,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
