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
