import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BootValues, renderBootScript } from '../../lib/vllm/boot-script';

/**
 * The weights' storage step of runtime/vllm/boot-vllm.sh, run for real by bash with the system
 * tools it calls (lsblk, blkid, mkfs.xfs, mountpoint, mount, aws) replaced by stubs that record
 * their calls and keep the state of a fake instance store: first boot, reboot, stop/start.
 */

const VALUES: BootValues = {
  REGION: 'cn-northwest-1', ECR_REGISTRY: '111122223333.dkr.ecr.cn-northwest-1.amazonaws.com.cn', VLLM_IMAGE: 'img', MODEL_S3_URI: 's3://weights/models/Qwen/m/master/',
  SERVED_MODEL_NAME: 'm', API_KEY_SECRET_ID: 'arn:aws-cn:secretsmanager:cn-northwest-1:111122223333:secret:k', MAX_MODEL_LEN: '8192', GPU_MEMORY_UTILIZATION: '0.9', DTYPE: 'auto',
  TENSOR_PARALLEL_SIZE: '1', LOAD_FORMAT: 'local', VLLM_PORT: '8000', METRIC_NAMESPACE: 'n', HEALTH_TIMEOUT_SECONDS: '900', EXTRA_ARGS: '', CLOUDWATCH_AGENT_CONFIG: '',
};

const STUBS: Record<string, string> = {
  lsblk: '[ -f "$STATE/has-nvme" ] && echo "/dev/nvme1n1 Amazon EC2 NVMe Instance Storage"; echo "/dev/nvme0n1 Amazon Elastic Block Store"',
  blkid: '[ -f "$STATE/filesystem" ]',
  'mkfs.xfs': 'echo "mkfs.xfs $*" >> "$STATE/calls"; touch "$STATE/filesystem"',
  mountpoint: '[ -f "$STATE/mounted" ]',
  mount: 'echo "mount $*" >> "$STATE/calls"; touch "$STATE/mounted"',
  aws: [
    'echo "aws $*" >> "$STATE/calls"',
    'if [ "$1 $2" = "s3 cp" ]; then',
    '  [ -f "$STATE/s3-fails" ] && exit 1',
    '  target="${*: -1}"; source="${*: -2:1}"; mkdir -p "$target"',
    // An adapter's prefix holds what the S3 "bucket" of the fake holds for it; a model's prefix holds weights.
    '  case "$source" in',
    '    */adapters/*) [ -d "$STATE/s3/${source#s3://}" ] && cp -r "$STATE/s3/${source#s3://}/." "$target/" ;;',
    '    *) echo weights > "$target/model.safetensors" ;;',
    '  esac',
    'fi',
  ].join('\n'),
  'systemd-cat': 'cat > /dev/null',
};

class FakeInstance {
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-boot-'));
  readonly state = path.join(this.dir, 'state');
  readonly models = path.join(this.dir, 'models');
  private readonly script = path.join(this.dir, 'boot-vllm.sh');
  private readonly bin = path.join(this.dir, 'bin');

  constructor(values: Partial<BootValues> = {}, opts: { nvme: boolean } = { nvme: true }) {
    fs.mkdirSync(this.bin);
    fs.mkdirSync(this.state);
    for (const [name, body] of Object.entries(STUBS)) fs.writeFileSync(path.join(this.bin, name), `#!/bin/bash\n${body}\n`, { mode: 0o755 });
    if (opts.nvme) fs.writeFileSync(path.join(this.state, 'has-nvme'), '');
    fs.writeFileSync(this.script, renderBootScript({ ...VALUES, ...values }), { mode: 0o755 });
  }

  /** What cnllm-model-storage.service runs at boot; returns the tools it called. */
  boot(): { status: number | null; calls: string[] } {
    fs.rmSync(path.join(this.state, 'calls'), { force: true });
    const run = spawnSync('bash', [this.script, 'prepare-model-storage'], {
      env: { PATH: `${this.bin}:/usr/bin:/bin`, STATE: this.state, MODELS_MOUNT: this.models },
      encoding: 'utf8',
    });
    const callsFile = path.join(this.state, 'calls');
    const calls = fs.existsSync(callsFile) ? fs.readFileSync(callsFile, 'utf8').trim().split('\n').map((c) => c.replace(this.models, '<mount>')) : [];
    return { status: run.status, calls };
  }

  /** A reboot: the instance store keeps its filesystem and files, only the mount is gone. */
  reboot(): void {
    fs.rmSync(path.join(this.state, 'mounted'), { force: true });
  }

  /** A stop/start: the instance comes back on another host with a blank instance store. */
  stopStart(): void {
    this.reboot();
    fs.rmSync(path.join(this.state, 'filesystem'), { force: true });
    fs.rmSync(this.models, { recursive: true, force: true });
  }

  get staged(): boolean {
    return fs.existsSync(path.join(this.models, 'model', '.cnllm-staged')) && fs.existsSync(path.join(this.models, 'model', 'model.safetensors'));
  }
}

const COPY = 'aws s3 cp --recursive --only-show-errors --region cn-northwest-1 s3://weights/models/Qwen/m/master/ <mount>/model';
const setup = ['aws configure set default.s3.max_concurrent_requests 64', 'aws configure set default.s3.multipart_chunksize 64MB'];

describe('the weights survive reboots, and come back after a stop/start', () => {
  test('first boot on a blank instance store: filesystem, mount, weights', () => {
    const instance = new FakeInstance();
    expect(instance.boot()).toEqual({ status: 0, calls: ['mkfs.xfs -f /dev/nvme1n1', 'mount /dev/nvme1n1 <mount>', ...setup, COPY] });
    expect(instance.staged).toBe(true);
  });

  test('reboot: the filesystem is mounted again, nothing is formatted or copied', () => {
    const instance = new FakeInstance();
    instance.boot();
    instance.reboot();
    expect(instance.boot()).toEqual({ status: 0, calls: ['mount /dev/nvme1n1 <mount>'] });
    expect(instance.staged).toBe(true);
  });

  test('stop/start: the blank instance store gets a filesystem and the weights again', () => {
    const instance = new FakeInstance();
    instance.boot();
    instance.stopStart();
    expect(instance.staged).toBe(false);
    expect(instance.boot()).toEqual({ status: 0, calls: ['mkfs.xfs -f /dev/nvme1n1', 'mount /dev/nvme1n1 <mount>', ...setup, COPY] });
    expect(instance.staged).toBe(true);
  });

  test('a copy cut short fails the unit, and the next boot copies again', () => {
    const instance = new FakeInstance();
    fs.writeFileSync(path.join(instance.state, 's3-fails'), '');
    expect(instance.boot().status).not.toBe(0);
    expect(instance.staged).toBe(false);
    fs.rmSync(path.join(instance.state, 's3-fails'));
    instance.reboot();
    expect(instance.boot()).toEqual({ status: 0, calls: ['mount /dev/nvme1n1 <mount>', ...setup, COPY] });
    expect(instance.staged).toBe(true);
  });

  test('no instance store (p3): weights on the root volume, copied once', () => {
    const instance = new FakeInstance({}, { nvme: false });
    expect(instance.boot()).toEqual({ status: 0, calls: [...setup, COPY] });
    instance.reboot();
    expect(instance.boot()).toEqual({ status: 0, calls: [] });
  });

  test('Run:ai streamer: weights stay in S3, nothing is copied', () => {
    const instance = new FakeInstance({ LOAD_FORMAT: 'runai_streamer' });
    expect(instance.boot()).toEqual({ status: 0, calls: ['mkfs.xfs -f /dev/nvme1n1', 'mount /dev/nvme1n1 <mount>'] });
  });
});

describe('systemd runs the storage step at every boot, before vLLM', () => {
  const script = renderBootScript(VALUES);
  const unit = (name: string) => script.slice(script.indexOf(`cat > /etc/systemd/system/${name} <<UNIT`), script.indexOf('\nUNIT\n', script.indexOf(`/etc/systemd/system/${name}`)));

  test('the rendered script keeps a copy of itself and a oneshot unit runs its storage step, enabled for every boot', () => {
    expect(script).toContain('install -D -m 700 "${BASH_SOURCE[0]}" "${INSTALLED_SCRIPT}"');
    const storage = unit('cnllm-model-storage.service');
    expect(storage).toContain('Type=oneshot');
    expect(storage).toContain('ExecStart=${INSTALLED_SCRIPT} prepare-model-storage');
    expect(storage).toContain('Before=cnllm-vllm.service');
    expect(storage).toContain('WantedBy=multi-user.target');
    expect(script).toContain('systemctl enable cnllm-model-storage.service');
  });

  test('vLLM requires the storage step and mounts the weights from where it put them', () => {
    const vllm = unit('cnllm-vllm.service');
    expect(vllm).toMatch(/Requires=.*cnllm-model-storage\.service/);
    expect(vllm).toMatch(/After=.*cnllm-model-storage\.service/);
    expect(vllm).toContain('-v ${MODELS_MOUNT}:/models:ro');
    expect(vllm).toContain('WantedBy=multi-user.target');
  });
});

describe('LoRA adapters are copied next to the weights and checked before vLLM may load them', () => {
  const ADAPTER = 's3://weights/adapters/support-bot/v3/';
  /** Puts files under an adapter's prefix in the fake's bucket. */
  const publish = (instance: FakeInstance, uri: string, files: string[]) => {
    const dir = path.join(instance.state, 's3', uri.replace('s3://', ''));
    fs.mkdirSync(dir, { recursive: true });
    for (const f of files) fs.writeFileSync(path.join(dir, f), f);
  };
  const adapterCopy = (uri: string, name: string) => `aws s3 cp --recursive --only-show-errors --region cn-northwest-1 ${uri} <mount>/adapters/${name}`;

  test('a promoted adapter is copied once per version, after the weights, whatever the load format', () => {
    const instance = new FakeInstance({ ADAPTERS: `support-bot|v3|${ADAPTER}|1` }, { nvme: false });
    publish(instance, ADAPTER, ['adapter_config.json', 'adapter_model.safetensors', 'manifest.json', 'promoted.json']);
    expect(instance.boot()).toEqual({ status: 0, calls: [...setup, COPY, adapterCopy(ADAPTER, 'support-bot')] });
    expect(fs.readdirSync(path.join(instance.models, 'adapters', 'support-bot')).sort()).toEqual(['.cnllm-staged-v3', 'adapter_config.json', 'adapter_model.safetensors', 'manifest.json', 'promoted.json']);
    instance.reboot();
    expect(instance.boot()).toEqual({ status: 0, calls: [] });

    const streamed = new FakeInstance({ LOAD_FORMAT: 'runai_streamer', ADAPTERS: `support-bot|v3|${ADAPTER}|1` }, { nvme: false });
    publish(streamed, ADAPTER, ['adapter_config.json', 'promoted.json']);
    expect(streamed.boot()).toEqual({ status: 0, calls: [adapterCopy(ADAPTER, 'support-bot')] });
  });

  test('an adapter the pipeline did not promote fails the boot, unless promotion is not required', () => {
    const strict = new FakeInstance({ ADAPTERS: `support-bot|v3|${ADAPTER}|1` }, { nvme: false });
    publish(strict, ADAPTER, ['adapter_config.json', 'adapter_model.safetensors']);
    expect(strict.boot().status).not.toBe(0);
    expect(fs.existsSync(path.join(strict.models, 'adapters', 'support-bot', '.cnllm-staged-v3'))).toBe(false);

    const candidate = new FakeInstance({ ADAPTERS: `support-bot|v3|${ADAPTER}|0` }, { nvme: false });
    publish(candidate, ADAPTER, ['adapter_config.json', 'adapter_model.safetensors']);
    expect(candidate.boot().status).toBe(0);
  });

  test('a prefix without adapter_config.json (wrong version, nothing published) fails the boot', () => {
    const instance = new FakeInstance({ ADAPTERS: `support-bot|v9|s3://weights/adapters/support-bot/v9/|0` }, { nvme: false });
    expect(instance.boot().status).not.toBe(0);
  });

  test('two adapters: each in its own directory; vLLM gets --enable-lora and one --lora-modules entry per adapter', () => {
    const legal = 's3://weights/adapters/legal/20261201/';
    const instance = new FakeInstance({ ADAPTERS: `support-bot|v3|${ADAPTER}|1 legal|20261201|${legal}|1`, LORA_ARGS: '--enable-lora --max-loras 2 --max-lora-rank 16 --lora-modules support-bot=/models/adapters/support-bot legal=/models/adapters/legal' }, { nvme: false });
    publish(instance, ADAPTER, ['adapter_config.json', 'promoted.json']);
    publish(instance, legal, ['adapter_config.json', 'promoted.json']);
    expect(instance.boot()).toEqual({ status: 0, calls: [...setup, COPY, adapterCopy(ADAPTER, 'support-bot'), adapterCopy(legal, 'legal')] });
    const script = renderBootScript({ ...VALUES, LORA_ARGS: '--enable-lora --lora-modules a=/models/adapters/a' });
    expect(script).toContain('read -r -a LORA <<< "${LORA_ARGS}"');
    expect(script).toContain('VLLM_ARGS+=("${LORA[@]}" "${EXTRA[@]}")');
  });
});
