/**
 * NVIDIA GPU instance types vLLM can serve on, with what sizing needs: GPUs, memory per GPU, whether
 * the GPU does bfloat16, and local NVMe (weights are copied there when present). AWS published specs.
 */
export interface GpuInstance {
  readonly gpus: number;
  readonly gpuModel: 'T4' | 'A10G' | 'V100' | 'A100';
  readonly gpuMemoryGiB: number;
  /** T4 and V100 (compute capability < 8.0) have no bfloat16: vLLM needs --dtype half there. */
  readonly bf16: boolean;
  /** Instance store NVMe, GB (0: none). */
  readonly nvmeGB: number;
}

const t4 = (gpus: number, nvmeGB: number): GpuInstance => ({ gpus, gpuModel: 'T4', gpuMemoryGiB: 16, bf16: false, nvmeGB });
const a10g = (gpus: number, nvmeGB: number): GpuInstance => ({ gpus, gpuModel: 'A10G', gpuMemoryGiB: 24, bf16: true, nvmeGB });
const v100 = (gpus: number, memoryGiB: number, nvmeGB: number): GpuInstance => ({ gpus, gpuModel: 'V100', gpuMemoryGiB: memoryGiB, bf16: false, nvmeGB });

export const GPU_INSTANCES: Readonly<Record<string, GpuInstance>> = {
  'g4dn.xlarge': t4(1, 125),
  'g4dn.2xlarge': t4(1, 225),
  'g4dn.4xlarge': t4(1, 225),
  'g4dn.8xlarge': t4(1, 900),
  'g4dn.16xlarge': t4(1, 900),
  'g4dn.12xlarge': t4(4, 900),
  'g4dn.metal': t4(8, 1800),
  'g5.xlarge': a10g(1, 250),
  'g5.2xlarge': a10g(1, 450),
  'g5.4xlarge': a10g(1, 600),
  'g5.8xlarge': a10g(1, 900),
  'g5.16xlarge': a10g(1, 1900),
  'g5.12xlarge': a10g(4, 3800),
  'g5.24xlarge': a10g(4, 3800),
  'g5.48xlarge': a10g(8, 7600),
  'p3.2xlarge': v100(1, 16, 0),
  'p3.8xlarge': v100(4, 16, 0),
  'p3.16xlarge': v100(8, 16, 0),
  'p3dn.24xlarge': v100(8, 32, 1800),
  'p4d.24xlarge': { gpus: 8, gpuModel: 'A100', gpuMemoryGiB: 40, bf16: true, nvmeGB: 8000 },
};

export const instanceFamily = (instanceType: string) => instanceType.split('.')[0];
