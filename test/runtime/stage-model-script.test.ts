import { execFileSync } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const SCRIPT = path.join(__dirname, '..', '..', 'runtime', 'staging', 'stage-model.sh');

/**
 * Runs the real staging script with stand-ins for `aws`, `pip` and `modelscope` on PATH: they record
 * their calls and keep "S3" in a local directory, so the test sees what the script would do in CodeBuild.
 */
function sandbox() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-stage-'));
  const bin = path.join(dir, 'bin');
  const s3 = path.join(dir, 's3');
  fs.mkdirSync(bin);
  fs.mkdirSync(s3);
  const stub = (name: string, body: string) => fs.writeFileSync(path.join(bin, name), `#!/bin/bash\necho "${name} $*" >> "${dir}/calls.log"\n${body}\n`, { mode: 0o755 });
  stub(
    'aws',
    `case "$1 $2" in
  "s3api head-object") key="$6"; [ -f "${s3}/$key" ] || exit 255 ;;
  "s3 cp")
    if [ "$3" = "--recursive" ]; then src="$5"; dest="\${6#s3://*/}"; mkdir -p "${s3}/$dest"; cp -r "$src"/. "${s3}/$dest"
    else src="$4"; dest="\${5#s3://*/}"; mkdir -p "$(dirname "${s3}/$dest")"; cp "$src" "${s3}/$dest"; fi ;;
esac`,
  );
  stub('pip', 'exit 0');
  stub(
    'modelscope',
    `while [ $# -gt 0 ]; do [ "$1" = "--local_dir" ] && out="$2"; shift; done
mkdir -p "$out/.msc" "$out/tokenizer"
printf '{"architectures":["Qwen2ForCausalLM"]}' > "$out/config.json"
printf 'weights-bytes' > "$out/model.safetensors"
printf 'tok' > "$out/tokenizer/vocab.json"
printf 'cache' > "$out/.msc/state"`,
  );
  const run = () =>
    execFileSync('bash', [SCRIPT], {
      encoding: 'utf8',
      env: {
        PATH: `${bin}:${process.env.PATH}`,
        MODEL_ID: 'Qwen/Qwen2.5-1.5B-Instruct',
        REVISION: 'master',
        BUCKET: 'cnllm-weights-111122223333-cn-northwest-1',
        PREFIX: 'models/Qwen/Qwen2.5-1.5B-Instruct/master/',
        PIP_INDEX_URL: 'https://pypi.mirror.example.cn/simple',
        PIP_PACKAGES: 'modelscope==1.28.0 awscli==1.40.0',
        WORK_DIR: path.join(dir, 'work'),
      },
    });
  const calls = () => fs.readFileSync(path.join(dir, 'calls.log'), 'utf8').trim().split('\n');
  return { s3, run, calls };
}

describe('runtime/staging/stage-model.sh', () => {
  test('downloads from ModelScope with the pinned client from the mirror, uploads the files, then the manifest with checksums', () => {
    const box = sandbox();
    expect(box.run()).toContain('staged Qwen/Qwen2.5-1.5B-Instruct@master at s3://cnllm-weights-111122223333-cn-northwest-1/models/Qwen/Qwen2.5-1.5B-Instruct/master/');
    const staged = path.join(box.s3, 'models/Qwen/Qwen2.5-1.5B-Instruct/master');
    expect(fs.readdirSync(staged).sort()).toEqual(['config.json', 'manifest.json', 'model.safetensors', 'tokenizer']);
    const manifest = JSON.parse(fs.readFileSync(path.join(staged, 'manifest.json'), 'utf8'));
    expect(manifest).toEqual(expect.objectContaining({ modelId: 'Qwen/Qwen2.5-1.5B-Instruct', revision: 'master', source: 'modelscope', totalBytes: 54 }));
    expect(manifest.files.map((f: { path: string }) => f.path)).toEqual(['config.json', 'model.safetensors', 'tokenizer/vocab.json']);
    expect(manifest.files[1]).toEqual({ path: 'model.safetensors', size: 13, sha256: createHash('sha256').update('weights-bytes').digest('hex') });

    const calls = box.calls();
    expect(calls[0]).toBe('pip install --quiet --disable-pip-version-check --index-url https://pypi.mirror.example.cn/simple modelscope==1.28.0 awscli==1.40.0');
    expect(calls[2]).toMatch(/^modelscope download --model Qwen\/Qwen2.5-1.5B-Instruct --revision master --local_dir /);
    // The manifest goes last: its presence is what marks the revision complete.
    expect(calls.slice(-2).map((c) => c.split(' ').slice(0, 3).join(' '))).toEqual(['aws s3 cp', 'aws s3 cp']);
    expect(calls[calls.length - 1]).toMatch(/manifest\.json s3:\/\/.*\/master\/manifest\.json$/);
  });

  test('is idempotent: a staged revision is skipped without downloading again', () => {
    const box = sandbox();
    box.run();
    const before = box.calls().length;
    expect(box.run()).toContain('already staged');
    const after = box.calls().slice(before);
    expect(after).toEqual([expect.stringMatching(/^pip install/), expect.stringMatching(/^aws s3api head-object --bucket cnllm-weights-111122223333-cn-northwest-1 --key models\/Qwen\/Qwen2.5-1.5B-Instruct\/master\/manifest.json/)]);
  });
});
