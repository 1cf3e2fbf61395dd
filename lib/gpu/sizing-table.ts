import { GPU_INSTANCES } from './instances';
import { sizingProblems } from './sizing';

/** Models people usually ask about, by parameter count (billions). */
export const TABLE_MODELS: readonly [string, number][] = [
  ['Qwen2.5-1.5B', 1.5],
  ['Qwen2.5-7B / DeepSeek-R1-Distill-Qwen-7B', 7.6],
  ['Qwen2.5-14B', 14.8],
  ['Qwen2.5-32B', 32.8],
  ['Qwen2.5-72B', 72.7],
];
export const TABLE_INSTANCES = ['g4dn.xlarge', 'g4dn.12xlarge', 'g5.xlarge', 'g5.12xlarge', 'g5.48xlarge', 'p3.2xlarge', 'p3.8xlarge', 'p3.16xlarge', 'p4d.24xlarge'];

/** The README's sizing table: which models fit which instances at 16-bit weights (all GPUs, 0.9 of their memory). */
export function sizingTable(): string {
  const header = `| Model (16-bit weights) | ${TABLE_INSTANCES.map((t) => `${t} (${GPU_INSTANCES[t].gpus}x ${GPU_INSTANCES[t].gpuModel} ${GPU_INSTANCES[t].gpuMemoryGiB} GB)`).join(' | ')} |`;
  const rule = `|---|${TABLE_INSTANCES.map(() => '---').join('|')}|`;
  const rows = TABLE_MODELS.map(([name, billions]) => {
    const cells = TABLE_INSTANCES.map((instanceType) => {
      const fits = sizingProblems({ instanceType, parametersBillions: billions, dtype: 'auto', gpuMemoryUtilization: 0.9 }, [instanceType.split('.')[0]], 'any').length === 0;
      return fits ? 'fits' : '-';
    });
    return `| ${name} | ${cells.join(' | ')} |`;
  });
  return [header, rule, ...rows].join('\n');
}
