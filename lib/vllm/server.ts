/** The port vLLM's OpenAI-compatible server listens on, on EC2 instances and in pods alike. */
export const VLLM_PORT = 8000;

/**
 * Environment of every vLLM process the kit runs (EC2 boot script and EKS pods alike): nothing is
 * fetched from a model hub (weights are staged in the region, huggingface.co is unreachable from
 * China), and vLLM's anonymous usage statistics, which it sends to its maintainers by default, stay off.
 */
export const VLLM_ENVIRONMENT: Readonly<Record<string, string>> = {
  HF_HUB_OFFLINE: '1',
  TRANSFORMERS_OFFLINE: '1',
  VLLM_NO_USAGE_STATS: '1',
  DO_NOT_TRACK: '1',
};

/** What a self-hosted model serves: text generation (chat), embeddings, or reranking (a cross-encoder). */
export type VllmTask = 'generate' | 'embed' | 'rerank';

/**
 * vLLM 0.9's `--task` per kind of model: none for generation (its default for generative models),
 * `embed` for /v1/embeddings, `score` for a cross-encoder, which serves /rerank, /v1/rerank and /score.
 */
export function vllmTaskArgs(task: VllmTask): string[] {
  return task === 'embed' ? ['--task', 'embed'] : task === 'rerank' ? ['--task', 'score'] : [];
}

/** The gateway's model kind of a self-hosted model: which endpoint routes to it. */
export function modelKindOfTask(task: VllmTask): 'chat' | 'embed' | 'rerank' {
  return task === 'generate' ? 'chat' : task;
}
