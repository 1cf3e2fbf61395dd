import { ChildProcess, execFile, spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { OperatorError } from '../../runtime/operator/operator-error';

export const TRAINING_DIR = path.join(__dirname, '..', '..', 'training');
export const TRAINING_MODULES = ['torch', 'transformers', 'peft', 'trl', 'accelerate', 'datasets', 'safetensors', 'tokenizers'];

/** The interpreter the training scripts run on: $CNLLM_PYTHON, else python3 on the PATH. */
export const python = (env: NodeJS.ProcessEnv = process.env) => env.CNLLM_PYTHON ?? 'python3';

/** Fails with the fix when the training packages (training/requirements.txt) are not importable. */
export async function checkTrainingPackages(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const probe = `import importlib.util, sys\nmissing = [m for m in ${JSON.stringify(TRAINING_MODULES)} if importlib.util.find_spec(m) is None]\nprint(",".join(missing))\nsys.exit(1 if missing else 0)`;
  await new Promise<void>((resolve, reject) =>
    execFile(python(env), ['-c', probe], { env }, (error, stdout) => {
      if (!error) return resolve();
      const missing = stdout.trim();
      reject(
        new OperatorError(
          missing
            ? `the Python training packages are missing (${missing}): run \`npm run setup\` (it runs python3 -m pip install -r training/requirements.txt)`
            : `cannot run ${python(env)} (${error.message}): install Python 3.10+ and run \`npm run setup\``,
        ),
      );
    }),
  );
}

/** Runs a script of training/ to completion, its output into `logFile`; the last lines are in the error when it fails. */
export async function runTrainingScript(script: string, args: string[], logFile: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const child = spawn(python(env), [path.join(TRAINING_DIR, script), ...args], { env: { ...env, HF_HUB_OFFLINE: '1', PYTHONUNBUFFERED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = fs.createWriteStream(logFile);
  let stdout = '';
  let tail = '';
  child.stdout!.on('data', (d: Buffer) => {
    stdout += d;
    log.write(d);
  });
  child.stderr!.on('data', (d: Buffer) => {
    tail = (tail + d).slice(-2000);
    log.write(d);
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  await new Promise((resolve) => log.end(resolve));
  if (code !== 0) throw new OperatorError(`training/${script} failed (exit ${code}); log: ${logFile}\n${tail.split('\n').slice(-8).join('\n')}`);
  return stdout;
}

/** Starts training/serve_student.py and resolves with its base URL once it listens. */
export async function startStudentServer(opts: { modelDir: string; adapterDir: string; name: string; logFile: string; env?: NodeJS.ProcessEnv }): Promise<{ url: string; child: ChildProcess; stop: () => Promise<void> }> {
  const env = opts.env ?? process.env;
  const child = spawn(python(env), [path.join(TRAINING_DIR, 'serve_student.py'), '--model-dir', opts.modelDir, '--adapter-dir', opts.adapterDir, '--name', opts.name, '--port', '0'], {
    env: { ...env, HF_HUB_OFFLINE: '1', PYTHONUNBUFFERED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = fs.createWriteStream(opts.logFile);
  child.stderr!.pipe(log);
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      const m = / on (http:\/\/127\.0\.0\.1:\d+\/v1)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('error', reject);
    void exited.then((code) => reject(new OperatorError(`training/serve_student.py exited ${code} before it listened; log: ${opts.logFile}`)));
  });
  return {
    url,
    child,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
