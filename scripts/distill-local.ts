import * as fs from 'fs';
import * as path from 'path';
import { layout } from '../runtime/distill/dataset';
import { evaluate } from '../runtime/distill/evaluate';
import { GatewayClient } from '../runtime/distill/gateway-client';
import { DEFAULT_EVAL_SHARE, exportStep, RunContext, splitStep, teacherStep } from '../runtime/distill/pipeline';
import { LocalGateway } from '../runtime/local/local-gateway';
import { OperatorError } from '../runtime/operator/operator-error';
import { BedrockFake } from '../test/fakes/bedrock-fake';
import { JudgeFake } from '../test/fakes/judge-fake';
import { flagValue, runCli } from './cli-config';
import { startDistillGateway } from './local/distill-gateway';
import { LocalRunStorage } from './local/distill-run-storage';
import { checkTrainingPackages, runTrainingScript, startStudentServer } from './local/python-training';

const STEPS = ['export', 'teacher', 'split', 'train', 'evaluate'] as const;
type Step = (typeof STEPS)[number];

const USAGE = `Usage: npm run distill:local -- [--prompts FILE] [--manifest FILE] [--out DIR] [--gateway URL]
                               [--teacher ALIAS] [--judge ALIAS] [--samples N] [--eval-share F]
                               [--concurrency N] [--threshold F] [--epochs N] [--base-model DIR]
                               [--steps export,teacher,split,train,evaluate]

The whole distillation pipeline on one machine: export gate, teacher answers through the kit's
gateway, filter and split, a real LoRA fine-tune (CPU), and the evaluation report.
  --prompts FILE     JSONL of {"messages": [...], "id"?} (default examples/distill/prompts.jsonl)
  --manifest FILE    {"exportAllowed": bool} (default: manifest.json beside the prompts)
  --out DIR          output directory (default distill-out): dataset/, adapter/, eval/report.md
  --gateway URL      an already running gateway (e.g. npm run gateway:local) up to /v1; default: the
                     kit gateway composed here on loopback with stand-ins (Bedrock stand-in as the
                     cross-border teacher "nova-lite", a lexical stand-in judge "judge-local")
  --teacher ALIAS    (default nova-lite)   --judge ALIAS (default judge-local)
  --base-model DIR   a base model in Hugging Face layout (default: a tiny random model with a
                     tokenizer trained on the data, built by training/tiny_base.py)
  --steps LIST       run only these steps (each resumes from the files of the ones before)
Nothing leaves the machine unless --gateway points at a gateway that routes elsewhere.`;

function numberFlag(args: string[], flag: string, fallback: number, check: (n: number) => boolean, must: string): number {
  const raw = flagValue(args, flag);
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw new OperatorError(`${flag} ${raw}: must be ${must}`);
  return n;
}

async function main(args: string[]): Promise<void> {
  if (args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  const promptsFile = path.resolve(flagValue(args, '--prompts') ?? 'examples/distill/prompts.jsonl');
  const manifestFile = path.resolve(flagValue(args, '--manifest') ?? path.join(path.dirname(promptsFile), 'manifest.json'));
  if (!fs.existsSync(promptsFile)) throw new OperatorError(`--prompts ${promptsFile} does not exist`);
  const outDir = path.resolve(flagValue(args, '--out') ?? 'distill-out');
  const steps = (flagValue(args, '--steps') ?? STEPS.join(',')).split(',') as Step[];
  const unknown = steps.filter((s) => !STEPS.includes(s));
  if (unknown.length > 0) throw new OperatorError(`--steps: unknown ${unknown.join(', ')} (steps: ${STEPS.join(', ')})`);
  const samples = numberFlag(args, '--samples', 1, (n) => Number.isInteger(n) && n >= 1 && n <= 8, 'an integer 1-8');
  const evalShare = numberFlag(args, '--eval-share', DEFAULT_EVAL_SHARE, (n) => n >= 0 && n <= 0.5, 'between 0 and 0.5');
  const concurrency = numberFlag(args, '--concurrency', 4, (n) => Number.isInteger(n) && n >= 1 && n <= 64, 'an integer 1-64');
  const threshold = numberFlag(args, '--threshold', 0.9, (n) => n >= 0 && n <= 2, 'between 0 and 2');
  const epochs = numberFlag(args, '--epochs', 10, (n) => Number.isInteger(n) && n >= 1 && n <= 50, 'an integer 1-50');
  const teacher = flagValue(args, '--teacher') ?? 'nova-lite';
  const judge = flagValue(args, '--judge') ?? 'judge-local';
  const dataset = { name: path.basename(path.dirname(promptsFile)).toLowerCase().replace(/[^a-z0-9._-]/g, '-') || 'local', version: 'local' };
  const runId = 'local';
  const storage = new LocalRunStorage(outDir, runId, dataset, promptsFile, manifestFile);
  fs.mkdirSync(path.join(outDir, 'logs'), { recursive: true });
  if (steps.includes('train')) await checkTrainingPackages();

  const stops: (() => Promise<void>)[] = [];
  try {
    let gatewayUrl = flagValue(args, '--gateway');
    if (!gatewayUrl) {
      const bedrock = await new BedrockFake().start();
      const judgeFake = await new JudgeFake().start();
      stops.push(() => bedrock.stop(), () => judgeFake.stop());
      const gatewayLog = fs.createWriteStream(path.join(outDir, 'logs', 'gateway.jsonl'), { flags: 'a' });
      stops.push(() => new Promise((resolve) => gatewayLog.end(resolve)));
      const gateway: LocalGateway = await startDistillGateway({
        bedrockEndpoint: bedrock.url,
        providers: [{ name: 'local-judge', baseUrl: `${judgeFake.url}/v1`, alias: 'judge-local', crossBorder: false }],
        log: (line) => gatewayLog.write(`${JSON.stringify(line)}\n`),
      });
      stops.unshift(() => gateway.close());
      gatewayUrl = `${gateway.url}/v1`;
      console.error(`distill:local: kit gateway on ${gateway.url} with stand-ins (teacher nova-lite: Bedrock stand-in, cross-border; judge-local: lexical stand-in judge); request log in ${path.join(outDir, 'logs', 'gateway.jsonl')}`);
    }
    const gateway = new GatewayClient({ baseUrl: gatewayUrl });
    const run: RunContext = { storage, runId, gateway, teacher };

    if (steps.includes('export')) {
      const log = await exportStep(run, dataset);
      console.error(
        log.exported
          ? `export: ${log.prompts} prompts cleared for cross-border teacher ${teacher}; masked ${log.maskedTotal} (${JSON.stringify(log.masked)}); log ${storage.describe(layout.exportLog(runId))}`
          : `export: ${log.prompts} prompts, teacher ${teacher} is served in China: nothing leaves, nothing masked`,
      );
    }
    if (steps.includes('teacher')) {
      const started = Date.now();
      const r = await teacherStep(run, { samplesPerPrompt: samples, concurrency });
      console.error(`teacher: ${r.answeredNow} answered now, ${r.alreadyAnswered} from an earlier run, ${r.failedNow} failed (${((Date.now() - started) / 1000).toFixed(1)} s); ${storage.describe(layout.answers(runId))}`);
    }
    // A new split or a new adapter makes the student's answers and the judgements of an earlier run stale.
    if (steps.includes('split') || steps.includes('train')) fs.rmSync(path.join(outDir, 'eval'), { recursive: true, force: true });
    if (steps.includes('split')) {
      const c = await splitStep(storage, runId, evalShare);
      console.error(`split: ${c.train} train / ${c.eval} eval examples from ${c.answers} answers (dropped: ${c.failed} failed, ${c.truncated} truncated, ${c.empty} empty, ${c.duplicates} duplicates)`);
    }
    const adapterDir = path.join(outDir, 'adapter');
    const baseModel = path.resolve(flagValue(args, '--base-model') ?? path.join(outDir, 'base-model'));
    if (steps.includes('train')) {
      const started = Date.now();
      if (!flagValue(args, '--base-model')) {
        await runTrainingScript('tiny_base.py', ['--data', path.join(outDir, 'dataset', 'train.jsonl'), '--out', baseModel], path.join(outDir, 'logs', 'base-model.log'));
      }
      const hps = { lora_r: 8, lora_alpha: 16, epochs, learning_rate: 0.005, max_seq_len: 256, batch_size: 8 };
      const out = await runTrainingScript(
        'train_lora.py',
        ['--train-dir', path.join(outDir, 'dataset'), '--model-dir', baseModel, '--output-dir', adapterDir, '--hps', JSON.stringify(hps), '--teacher', teacher, '--dataset-version', `${dataset.name}/${dataset.version}`],
        path.join(outDir, 'logs', 'train.log'),
      );
      const summary = JSON.parse(out.trim().split('\n').pop()!);
      console.error(`train: LoRA adapter in ${adapterDir} (${summary.examples} examples, loss ${Number(summary.train_loss).toFixed(3)}, ${((Date.now() - started) / 1000).toFixed(1)} s with start-up)`);
    }
    if (steps.includes('evaluate')) {
      const student = await startStudentServer({ modelDir: baseModel, adapterDir, name: 'student', logFile: path.join(outDir, 'logs', 'student.log') });
      stops.unshift(student.stop);
      const result = await evaluate({
        storage,
        runId,
        teacher,
        student: { client: new GatewayClient({ baseUrl: student.url }), model: 'student' },
        judge: { client: gateway, model: judge },
        promoteThreshold: threshold,
        concurrency,
        studentRequest: { max_tokens: 64, temperature: 0 },
      });
      if (!result.done) throw new OperatorError(`evaluate: ${result.remaining} answers still missing; run again with --steps evaluate`);
      const r = result.report;
      console.error(`evaluate: ${r.verdict}; win rate ${(r.winRate * 100).toFixed(1)}%, ${r.counts.judged}/${r.counts.evalPrompts} judged; report ${storage.describe(layout.reportMd(runId))}`);
    }
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

runCli('distill:local', main);
