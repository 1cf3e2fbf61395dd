/**
 * How fast the kit's CLIs start (npm run bench:cli): `--help` of each operator CLI, and
 * gateway:local from spawn to its first answer through a loopback Bedrock stand-in. Each figure is
 * the median of several runs, wall clock, the way a developer waits for it.
 */
import { execFile, spawn } from 'child_process';
import * as path from 'path';
import { promisify } from 'util';
import { BedrockFake } from '../test/fakes/bedrock-fake';

const ROOT = path.join(__dirname, '..');
const LAUNCHER = path.join(ROOT, 'scripts', 'run-ts.cjs');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeHelp(script: string): Promise<number> {
  const started = performance.now();
  await promisify(execFile)(process.execPath, [LAUNCHER, script, '--help'], { cwd: ROOT });
  return performance.now() - started;
}

async function timeFirstAnswer(bedrockUrl: string): Promise<number> {
  const started = performance.now();
  const child = spawn(process.execPath, [LAUNCHER, 'scripts/gateway-local.ts', '--port', '0', '--bedrock-endpoint', bedrockUrl], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (d) => {
        err += d;
        const m = /gateway on (http:\/\/[0-9.:]+)/.exec(err);
        if (m) resolve(m[1]);
      });
      child.on('exit', (code) => reject(new Error(`gateway:local exited ${code}: ${err}`)));
    });
    const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'nova-lite', messages: [{ role: 'user', content: 'hi' }] }) });
    if (res.status !== 200) throw new Error(`first answer was ${res.status}`);
    await res.text();
    return performance.now() - started;
  } finally {
    child.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const bedrock = await new BedrockFake().start();
  const rows: [string, number[]][] = [];
  for (const script of ['scripts/gateway-local.ts', 'scripts/door-local.ts', 'scripts/api-keys.ts', 'scripts/link-credentials.ts', 'scripts/stage-model.ts', 'scripts/mirror-images.ts']) {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push(await timeHelp(script));
    rows.push([`${path.basename(script, '.ts')} --help`, times]);
  }
  const first: number[] = [];
  for (let i = 0; i < RUNS; i++) first.push(await timeFirstAnswer(bedrock.url));
  rows.push(['gateway:local start to first answer', first]);
  await bedrock.stop();
  console.log(`node ${process.version}, ${RUNS} runs each, wall clock (min / median / max):`);
  console.log('| measure | min | median | max |\n|---|---|---|---|');
  for (const [name, xs] of rows) console.log(`| ${name} | ${Math.min(...xs).toFixed(0)} ms | ${median(xs).toFixed(0)} ms | ${Math.max(...xs).toFixed(0)} ms |`);
}

void main();
