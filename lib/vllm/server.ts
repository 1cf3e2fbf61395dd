/** The port vLLM's OpenAI-compatible server listens on, on EC2 instances and in pods alike. */
export const VLLM_PORT = 8000;
