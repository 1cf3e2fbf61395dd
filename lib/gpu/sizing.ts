import { GPU_INSTANCES, instanceFamily } from './instances';

export interface ServingSpec {
  readonly instanceType: string;
  readonly parametersBillions: number;
  readonly dtype: 'auto' | 'half' | 'float16' | 'bfloat16' | 'float32';
  /** Overrides the bytes per parameter the dtype implies (quantized weights, e.g. 0.5 for 4-bit AWQ). */
  readonly bytesPerParameter?: number;
  readonly tensorParallelSize?: number;
  readonly gpuMemoryUtilization: number;
}

export interface SizingProblem {
  /** Field under the model entry, e.g. `instanceType`. */
  readonly field: string;
  readonly message: string;
}

const GiB = 1024 ** 3;
/** KV cache and activations need room beyond the weights; below this vLLM starts but cannot serve useful context lengths. */
const KV_HEADROOM_FRACTION = 0.2;
const MIN_KV_GIB = 1;

export function bytesPerParameter(spec: Pick<ServingSpec, 'dtype' | 'bytesPerParameter'>): number {
  return spec.bytesPerParameter ?? (spec.dtype === 'float32' ? 4 : 2);
}

export function weightsGiB(spec: Pick<ServingSpec, 'parametersBillions' | 'dtype' | 'bytesPerParameter'>): number {
  return (spec.parametersBillions * 1e9 * bytesPerParameter(spec)) / GiB;
}

/** The dtype vLLM gets: `auto` would pick bf16 from most model configs, which T4/V100 cannot run. */
/** Room the unpacked vLLM image (CUDA, PyTorch) takes on a node's volume. */
export const VLLM_IMAGE_GIB = 30;

/**
 * GiB a GPU node's volume needs: a base, the vLLM image, and the weights when they are copied onto
 * that volume (not when streamed by runai_streamer, nor when an instance-store NVMe disk takes them).
 */
export function nodeVolumeGiB(baseGiB: number, spec: Pick<ServingSpec, 'parametersBillions' | 'dtype' | 'bytesPerParameter'>, weightsOnVolume: boolean): number {
  return baseGiB + VLLM_IMAGE_GIB + (weightsOnVolume ? Math.ceil(weightsGiB(spec) * 1.1) : 0);
}

export function effectiveDtype(spec: Pick<ServingSpec, 'instanceType' | 'dtype'>): string {
  const gpu = GPU_INSTANCES[spec.instanceType];
  return spec.dtype === 'auto' && gpu && !gpu.bf16 ? 'half' : spec.dtype;
}

export function tensorParallelSize(spec: Pick<ServingSpec, 'instanceType' | 'tensorParallelSize'>): number {
  return spec.tensorParallelSize ?? GPU_INSTANCES[spec.instanceType]?.gpus ?? 1;
}

/** Why a model cannot be served as configured; empty when it fits. */
export function sizingProblems(spec: ServingSpec, allowedFamilies: readonly string[], region: string): SizingProblem[] {
  const family = instanceFamily(spec.instanceType);
  if (!allowedFamilies.includes(family)) {
    return [{ field: 'instanceType', message: `${family} is not offered in ${region} (allowed: ${allowedFamilies.join(', ')}; override with gpu.allowedInstanceFamilies)` }];
  }
  const gpu = GPU_INSTANCES[spec.instanceType];
  if (!gpu) {
    return [{ field: 'instanceType', message: `is not an NVIDIA GPU instance type vLLM can serve on; use one of ${Object.keys(GPU_INSTANCES).filter((t) => allowedFamilies.includes(instanceFamily(t))).join(', ')}` }];
  }
  const problems: SizingProblem[] = [];
  if (spec.dtype === 'bfloat16' && !gpu.bf16) {
    problems.push({ field: 'vllm.dtype', message: `bfloat16 needs an Ampere or newer GPU; ${spec.instanceType} has ${gpu.gpuModel}. Use half (or auto, which becomes half here)` });
  }
  const tp = tensorParallelSize(spec);
  if (tp > gpu.gpus || gpu.gpus % tp !== 0) {
    problems.push({ field: 'vllm.tensorParallelSize', message: `must divide the ${gpu.gpus} GPU(s) of ${spec.instanceType}` });
    return problems;
  }
  const weights = weightsGiB(spec);
  const needed = weights + Math.max(MIN_KV_GIB, weights * KV_HEADROOM_FRACTION);
  const usable = tp * gpu.gpuMemoryGiB * spec.gpuMemoryUtilization;
  if (needed > usable) {
    problems.push({
      field: 'instanceType',
      message: `cannot hold the model: ${spec.parametersBillions}B parameters x ${bytesPerParameter(spec)} bytes = ${weights.toFixed(1)} GiB of weights plus KV-cache headroom needs ${needed.toFixed(1)} GiB, but ${tp} x ${gpu.gpuModel} ${gpu.gpuMemoryGiB} GiB x ${spec.gpuMemoryUtilization} gives ${usable.toFixed(1)} GiB. Choose a larger instance, more GPUs (tensorParallelSize), or quantized weights (bytesPerParameter)`,
    });
  }
  return problems;
}
