/**
 * What the gateway can ask of a Bedrock model beyond plain chat, per catalog model (full model
 * entries in bedrock.models state their own). The gateway refuses (400) a parameter the model
 * cannot honour instead of dropping it, so these facts decide what callers may send.
 */
export interface ChatCapabilities {
  /**
   * `effort`: Converse additionalModelRequestFields.reasoningConfig {type: "enabled",
   * maxReasoningEffort: low|medium|high} (Nova 2 Lite's extended thinking); `none`: no reasoning
   * setting, `reasoning_effort` is refused.
   */
  readonly reasoning: 'none' | 'effort';
  /**
   * How `response_format` json_schema is served: `native` (Converse outputConfig.textFormat,
   * Bedrock structured outputs) or `tool` (a forced tool: Nova's documented way, constrained decoding
   * of tool input).
   */
  readonly structuredOutput: 'tool' | 'native';
  /** The model takes a cache point after the tool definitions (Claude); Nova caches system and messages only. */
  readonly cacheTools: boolean;
}

const NOVA: ChatCapabilities = { reasoning: 'none', structuredOutput: 'tool', cacheTools: false };

/** Catalog names (lib/bedrock/catalog.ts) -> capabilities; a name missing here has the most conservative set. */
export const CATALOG_CAPABILITIES: Readonly<Record<string, ChatCapabilities>> = {
  'nova-micro': NOVA,
  'nova-lite': NOVA,
  'nova-pro': NOVA,
  'nova-premier': NOVA,
  'nova-2-lite': { ...NOVA, reasoning: 'effort' },
};

export function catalogCapabilities(name: string): ChatCapabilities {
  return CATALOG_CAPABILITIES[name] ?? NOVA;
}
