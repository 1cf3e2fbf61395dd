import * as fs from 'fs';
import * as path from 'path';

export const BOOT_SCRIPT = path.join(__dirname, '..', '..', 'runtime', 'vllm', 'boot-vllm.sh');

/** The values runtime/vllm/boot-vllm.sh checks for at its top. */
export interface BootValues {
  readonly REGION: string;
  readonly ECR_REGISTRY: string;
  readonly VLLM_IMAGE: string;
  readonly MODEL_S3_URI: string;
  readonly SERVED_MODEL_NAME: string;
  readonly API_KEY_SECRET_ID: string;
  readonly MAX_MODEL_LEN: string;
  readonly GPU_MEMORY_UTILIZATION: string;
  readonly DTYPE: string;
  readonly TENSOR_PARALLEL_SIZE: string;
  readonly LOAD_FORMAT: string;
  readonly VLLM_PORT: string;
  readonly METRIC_NAMESPACE: string;
  readonly HEALTH_TIMEOUT_SECONDS: string;
  readonly EXTRA_ARGS: string;
  /** lib/vllm/adapters.ts adapterSyncList: the LoRA adapters to copy next to the weights. @default none */
  readonly ADAPTERS?: string;
  /** lib/vllm/adapters.ts loraArgs, space-separated. @default none */
  readonly LORA_ARGS?: string;
  readonly CLOUDWATCH_AGENT_CONFIG: string;
}

/** Single-quoted for the shell: nothing inside is expanded. */
export const shellQuote = (value: string) => `'${value.replace(/'/g, `'"'"'`)}'`;

/** Read once per synth, however many models are served. */
let bootScript: string | undefined;

/** The boot script as user data: its values assigned (quoted) right after the shebang, then the script unchanged. */
export function renderBootScript(values: BootValues): string {
  bootScript ??= fs.readFileSync(BOOT_SCRIPT, 'utf8');
  const [shebang, ...body] = bootScript.split('\n');
  const assignments = Object.entries(values).flatMap(([key, value]) => [
    // A "$" in a value (the CloudWatch agent's ${aws:InstanceId}) is meant literally.
    ...(value.replace(/\$\{Token\[[^\]]+\]\}/g, '').includes('$') ? ['# shellcheck disable=SC2016'] : []),
    `${key}=${shellQuote(value)}`,
  ]);
  return [shebang, '# Values rendered by cn-llm-kit (see runtime/vllm/boot-vllm.sh)', ...assignments, ...body].join('\n');
}

/** CloudWatch agent config: NVIDIA GPU utilisation and memory per instance and per Auto Scaling group. */
export function gpuMetricsAgentConfig(namespace: string): string {
  return JSON.stringify({
    agent: { metrics_collection_interval: 60 },
    metrics: {
      namespace,
      append_dimensions: { InstanceId: '${aws:InstanceId}', AutoScalingGroupName: '${aws:AutoScalingGroupName}' },
      aggregation_dimensions: [['AutoScalingGroupName']],
      metrics_collected: { nvidia_gpu: { measurement: ['utilization_gpu', 'memory_used', 'memory_total', 'temperature_gpu'] } },
    },
  });
}
