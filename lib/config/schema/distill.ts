/** Distillation in China: a teacher's answers train a LoRA adapter for a self-hosted student (Step Functions + SageMaker). */
import { z } from 'zod';
import { list, flag, int } from './primitives';

/** A model name callers send (routed alias): the same spelling the route aliases use. */
const alias = (what: string) => z.string().regex(/^[a-z0-9][a-z0-9._/-]{0,62}$/, { error: `must be a routed model alias (${what}), e.g. "nova-pro"` });

/** Adapter names become route aliases and S3 prefixes: no "/" (a prefix level) and no "." runs. */
export const adapterName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, { error: 'must be lower-case letters, digits, "_" or "-" (it becomes a model alias and an S3 prefix)' });
export const adapterVersion = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, { error: 'must be letters, digits, ".", "_" or "-", e.g. "v1" or a run id' });

export const distillSection = z
  .object({
    /** Routed alias whose answers the student learns from (a Bedrock, provider or self-hosted alias). @default "nova-pro" */
    teacher: alias('the teacher').default('nova-pro'),
    /** Routed alias that compares student and teacher answers in the evaluation. @default "nova-pro" */
    judge: alias('the judge').default('nova-pro'),
    /**
     * The student's base model: a `models[].servedName`, or a model id already staged in the weights
     * bucket as `org/model` (revision `master`) or `org/model@revision`.
     * @default the first of models[]
     */
    baseModel: z
      .string()
      .regex(/^([a-z0-9][a-z0-9._-]{0,62}|[A-Za-z0-9._-]+\/[A-Za-z0-9._-]+(@[A-Za-z0-9._-]+)?)$/, { error: 'must be a models[].servedName or a staged model id "org/model[@revision]"' })
      .optional(),
    /** The adapter the pipeline trains: `adapters/<name>/<version>/` in the weights bucket; the run id is the version unless `npm run distill -- start --adapter-version` says otherwise. @default "<base served name or model>-distilled" */
    adapterName: adapterName.optional(),
    /** The alias the evaluation calls for the student: the adapter must be served under it then (models[].adapters, requirePromoted false). @default the adapter name */
    studentAlias: alias('the student').optional(),
    /** Teacher answers per prompt. @default 1 */
    samplesPerPrompt: int(1, 16, 'teacher answers per prompt').default(1),
    /** Share of the examples held out for evaluation. @default 0.1 */
    evalShare: z.coerce.number({ error: 'must be a number between 0.01 and 0.5' }).min(0.01, { error: 'must be at least 0.01' }).max(0.5, { error: 'must be at most 0.5 (most examples train)' }).default(0.1),
    /** The evaluation score (0-1) an adapter needs to be promoted. @default 0.5 */
    promoteThreshold: z.coerce.number({ error: 'must be a number between 0 and 1' }).min(0, { error: 'must be at least 0' }).max(1, { error: 'must be at most 1' }).default(0.5),
    /** Requests the step handler keeps in flight to the gateway (teacher, judge). @default 4 */
    concurrency: int(1, 64, 'requests in flight to the gateway').default(4),
    /** The whole run, teacher loop and training included, ends after this. @default 48 */
    maxRunHours: int(1, 240, 'hours a run may take').default(48),
    /** The step handler Lambda: `teacher` works until about a minute before this and returns to be called again. @default 900 */
    stepTimeoutSeconds: int(120, 900, 'seconds one step handler call may run').default(900),
    stepMemoryMb: int(256, 10240, 'step handler Lambda memory').default(1024),
    logRetentionDays: int(1, 3653, 'days the pipeline\'s logs are kept').default(365),
    training: z
      .object({
        /** SageMaker training instance. Which ml.* GPU types each China region offers is not confirmed: check the SageMaker console's quotas. @default "ml.g5.2xlarge" */
        instanceType: z.string().regex(/^ml\.[a-z][a-z0-9]*\.[a-z0-9]+$/, { error: 'must be a SageMaker instance type such as "ml.g5.2xlarge"' }).default('ml.g5.2xlarge'),
        volumeGiB: int(30, 16384, 'GiB of training volume (base model, data, checkpoints)').default(100),
        maxRuntimeHours: int(1, 120, 'hours the training job may run').default(12),
        /**
         * dlc: the AWS Deep Learning Container `727897471807.dkr.ecr.<region>.amazonaws.com.cn/<dlcRepository>:<images.training.tag>`
         * (AWS's account in China); mirror: the private ECR copy `<prefix>/training` (images.training, by digest when pinned).
         * @default "dlc"
         */
        image: z.enum(['dlc', 'mirror'], { error: 'must be dlc (the AWS Deep Learning Container in China) or mirror (the private ECR copy)' }).default('dlc'),
        dlcRepository: z.string().regex(/^[a-z0-9]+([._/-][a-z0-9]+)*$/, { error: 'must be a Deep Learning Containers repository such as "huggingface-pytorch-training"' }).default('huggingface-pytorch-training'),
        /** No network for the training container (data comes as channels). Off only for pipPackages. @default true */
        networkIsolation: flag(true),
        /** Extra packages pip installs at job start from staging.pipIndexUrl (needs networkIsolation false and a NAT). @default [] */
        pipPackages: list(z.string().regex(/^[A-Za-z0-9_.-]+==[A-Za-z0-9_.+-]+$/, { error: 'must be pinned requirements such as "peft==0.13.2"' })).default([]),
        /** LoRA hyper-parameters (training/train_lora.py reads them from SM_HPS). */
        loraR: int(1, 256, 'LoRA rank').default(16),
        loraAlpha: int(1, 512, 'LoRA alpha').default(32),
        epochs: int(1, 50, 'epochs').default(2),
        learningRate: z.coerce.number({ error: 'must be a learning rate such as 0.0002' }).positive({ error: 'must be positive' }).max(0.1, { error: 'must be at most 0.1' }).default(0.0002),
        maxSeqLen: int(128, 32768, 'tokens per training example').default(2048),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .prefault({});

/** One LoRA adapter a served model loads: `adapters/<name>/<version>/` of the weights bucket. */
export const adapterSchema = z
  .object({
    name: adapterName,
    version: adapterVersion,
    /** Serve it only when the pipeline promoted it (`promoted.json` next to it); false serves a candidate, e.g. for its evaluation. @default true */
    requirePromoted: flag(true),
  })
  .strict();
