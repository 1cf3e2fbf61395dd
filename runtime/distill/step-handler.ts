// REPLACED AT MERGE BY wp-distill's runtime/distill/step-handler.ts.
// wp-distillinfra keeps only the contract's types here so the Distill stack can bundle its Lambda;
// nothing in this file is the pipeline and no test exercises its behaviour.

export type DistillStep = 'export' | 'teacher' | 'split' | 'evaluate';

/** The event the Distill state machine sends (docs: /work/wt/_briefs/contracts.md, "Distillation"). */
export interface DistillStepEvent {
  readonly step: DistillStep;
  readonly runId: string;
  readonly bucket: string;
  readonly dataset: { readonly name: string; readonly version: string };
  readonly teacher: string;
  readonly student?: string;
  readonly judge?: string;
  readonly gatewayUrl: string;
  readonly samplesPerPrompt?: number;
  readonly evalShare?: number;
  readonly concurrency?: number;
  readonly promoteThreshold?: number;
}

export interface DistillStepResult {
  readonly done: boolean;
  readonly promote?: boolean;
  readonly score?: number;
  readonly winRate?: number;
  readonly [count: string]: unknown;
}

export async function handler(event: DistillStepEvent): Promise<DistillStepResult> {
  throw new Error(`runtime/distill/step-handler.ts is wp-distillinfra's placeholder: step "${event.step}" runs only with wp-distill's handler merged`);
}
