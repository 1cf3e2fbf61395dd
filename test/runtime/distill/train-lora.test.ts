import { execFile } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { parsePrompts, toJsonl } from '../../../runtime/distill/dataset';
import { checkTrainingPackages, python, runTrainingScript, TRAINING_DIR } from '../../../scripts/local/python-training';
import { REPO_ROOT } from '../../helpers/cli';

const run = promisify(execFile);

/**
 * The real LoRA fine-tune, on CPU, of a tiny random Qwen2 with a tokenizer trained on the data:
 * the same train_lora.py as the SageMaker job, driven by SageMaker's environment. Needs the
 * Python packages of training/requirements.txt (npm run setup); without them this test fails, it is never skipped.
 * Its compute is about 15 s; the time limits are for Python start-up on a machine loaded by other work.
 */
describe('training/train_lora.py', () => {
  let dir: string;
  beforeAll(async () => {
    await checkTrainingPackages();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-train-'));
    const prompts = parsePrompts(fs.readFileSync(path.join(REPO_ROOT, 'examples/distill/prompts.jsonl'), 'utf8'), 'examples');
    fs.mkdirSync(path.join(dir, 'train'));
    fs.writeFileSync(path.join(dir, 'train', 'train.jsonl'), toJsonl(prompts.map((p) => ({ messages: [...p.messages, { role: 'assistant', content: `You said: ${p.messages.at(-1)!.content}` }] }))));
    await runTrainingScript('tiny_base.py', ['--data', path.join(dir, 'train', 'train.jsonl'), '--out', path.join(dir, 'base')], path.join(dir, 'base.log'));
  }, 600000);

  test('SM_* environment in, a PEFT adapter with a checksummed manifest out, and PEFT loads it onto the base', async () => {
    const env = {
      ...process.env,
      SM_CHANNEL_TRAIN: path.join(dir, 'train'),
      SM_CHANNEL_MODEL: path.join(dir, 'base'),
      SM_MODEL_DIR: path.join(dir, 'model'),
      // As the Step Functions task sets them: strings, with the framework's own entries among them.
      SM_HPS: JSON.stringify({ sagemaker_program: 'train_lora.py', sagemaker_submit_directory: 's3://b/code.tar.gz', sagemaker_region: 'cn-northwest-1', lora_r: '4', lora_alpha: '8', epochs: '1', learning_rate: '0.002', max_seq_len: '128', teacher: 'nova-pro', dataset_version: 'support/v1', base_model: 'tiny-qwen2' }),
    };
    // Script mode passes the hyper-parameters as arguments too.
    const smArgs = ['--lora_r', '4', '--lora_alpha', '8', '--epochs', '1', '--learning_rate', '0.002', '--max_seq_len', '128', '--sagemaker_program', 'train_lora.py', '--sagemaker_region', 'cn-northwest-1'];
    const out = await runTrainingScript('train_lora.py', smArgs, path.join(dir, 'train.log'), env);
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual(expect.objectContaining({ examples: 40, adapter: path.join(dir, 'model') }));
    const model = path.join(dir, 'model');
    expect(fs.readdirSync(model).sort()).toEqual(['adapter_config.json', 'adapter_model.safetensors', 'manifest.json']);
    const manifest = JSON.parse(fs.readFileSync(path.join(model, 'manifest.json'), 'utf8'));
    expect(manifest).toEqual(
      expect.objectContaining({
        base_model: 'tiny-qwen2',
        base_revision: expect.stringMatching(/^[0-9a-f]{64}$/),
        dataset_version: 'support/v1',
        teacher: 'nova-pro',
        hyper_parameters: expect.objectContaining({ lora_r: 4, lora_alpha: 8, epochs: 1, learning_rate: 0.002, max_seq_len: 128 }),
        device: 'cpu',
      }),
    );
    expect(Number.isFinite(manifest.train_loss)).toBe(true);
    for (const file of ['adapter_config.json', 'adapter_model.safetensors']) {
      expect(manifest.files[file]).toBe(createHash('sha256').update(fs.readFileSync(path.join(model, file))).digest('hex'));
    }
    const config = JSON.parse(fs.readFileSync(path.join(model, 'adapter_config.json'), 'utf8'));
    expect(config).toEqual(expect.objectContaining({ peft_type: 'LORA', r: 4, lora_alpha: 8 }));

    const load = [
      'import sys, torch',
      'from peft import PeftModel',
      'from transformers import AutoModelForCausalLM, AutoTokenizer',
      'base = AutoModelForCausalLM.from_pretrained(sys.argv[1], local_files_only=True)',
      'model = PeftModel.from_pretrained(base, sys.argv[2], local_files_only=True)',
      'tok = AutoTokenizer.from_pretrained(sys.argv[1], local_files_only=True)',
      'ids = tok.apply_chat_template([{"role": "user", "content": "你好"}], add_generation_prompt=True, return_tensors="pt", return_dict=True)',
      'out = model.generate(**ids, max_new_tokens=3, do_sample=False)',
      'lora = [n for n, _ in model.named_parameters() if "lora_" in n]',
      'print(len(lora), out.shape[1] - ids["input_ids"].shape[1])',
    ].join('\n');
    const loaded = await run(python(), ['-c', load, path.join(dir, 'base'), model], { env: { ...process.env, HF_HUB_OFFLINE: '1' } });
    const [loraTensors, generated] = loaded.stdout.trim().split('\n').pop()!.split(' ').map(Number);
    // LoRA A and B on every linear layer of both blocks (7 per block).
    expect(loraTensors).toBe(2 * 7 * 2);
    expect(generated).toBeGreaterThan(0);
  }, 600000);

  test('bad hyper-parameters and missing inputs fail with what to fix', async () => {
    const fail = (args: string[], env: NodeJS.ProcessEnv = {}) => run(python(), [path.join(TRAINING_DIR, 'train_lora.py'), ...args], { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } }).then(() => '', (e) => `${e.code}: ${e.stderr}`);
    expect(await fail(['--model-dir', 'm', '--output-dir', 'o'])).toMatch(/^2: train_lora: --train-dir is required \(or \$SM_CHANNEL_TRAIN in a SageMaker job\)/);
    expect(await fail([], { SM_CHANNEL_TRAIN: dir, SM_CHANNEL_MODEL: dir, SM_MODEL_DIR: dir, SM_HPS: '{"lora_r": 0}' })).toMatch(/^2: train_lora: hyper-parameter lora_r must be at least 1/);
    expect(await fail([], { SM_CHANNEL_TRAIN: dir, SM_CHANNEL_MODEL: dir, SM_MODEL_DIR: dir, SM_HPS: '{"warmup": 3}' })).toMatch(/unknown hyper-parameter 'warmup'/);
    expect(await fail(['--warmup', '3'], { SM_CHANNEL_TRAIN: dir, SM_CHANNEL_MODEL: dir, SM_MODEL_DIR: dir })).toMatch(/^2: .*unrecognized arguments: --warmup/s);
    expect(await fail(['--train-dir', path.join(dir, 'train'), '--model-dir', path.join(dir, 'nothing'), '--output-dir', path.join(dir, 'o')])).toMatch(/holds no Hugging Face model \(config.json missing\)/);
  }, 120000);
});
