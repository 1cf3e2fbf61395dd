/**
 * The distillation's S3 layout in the kit's weights bucket (the contract between the pipeline, its
 * infrastructure and the vLLM hosts that serve adapters): one derivation for stacks, scripts and boot.
 */
export const DISTILL_PATHS = {
  /** `distill/datasets/<name>/<version>/prompts.jsonl` and `manifest.json`. */
  datasets: 'distill/datasets/',
  dataset: (name: string, version: string) => `distill/datasets/${name}/${version}/`,
  /** `distill/runs/<runId>/`: export/, teacher/, dataset/, training/ (SageMaker's output), eval/. */
  runs: 'distill/runs/',
  run: (runId: string) => `distill/runs/${runId}/`,
  report: (runId: string) => `distill/runs/${runId}/eval/report.md`,
  /** `adapters/<name>/<version>/`: adapter_config.json, adapter_model.safetensors, manifest.json (and promoted.json once promoted). */
  adapters: 'adapters/',
  adapter: (name: string, version: string) => `adapters/${name}/${version}/`,
  /** Written next to an adapter when its evaluation passed: vLLM hosts serve only promoted adapters unless told otherwise. */
  promotedMarker: 'promoted.json',
} as const;

/** Run ids name S3 prefixes and SageMaker jobs (`<prefix>-distill-<runId>`: 63 characters at most, lower case in ARNs). */
export const RUN_ID_PATTERN = /^[a-z0-9](-?[a-z0-9]){0,39}$/;
