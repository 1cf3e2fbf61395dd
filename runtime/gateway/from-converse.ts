import type { ConverseResponse, ConverseStreamOutput, StopReason, TokenUsage } from '@aws-sdk/client-bedrock-runtime';

export function finishReason(stop: StopReason | string | undefined): 'stop' | 'length' | 'tool_calls' | 'content_filter' {
  switch (stop) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'guardrail_intervened':
    case 'content_filtered':
      return 'content_filter';
    default:
      return 'stop';
  }
}

export function usageOf(usage: TokenUsage | undefined) {
  const prompt = usage?.inputTokens ?? 0;
  const completion = usage?.outputTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: usage?.totalTokens ?? prompt + completion };
}

/** Converse response -> OpenAI chat.completion. */
export function toChatCompletion(res: ConverseResponse, id: string, model: string, created: number) {
  const blocks = res.output?.message?.content ?? [];
  const text = blocks.map((b) => b.text ?? '').join('');
  const toolCalls = blocks
    .filter((b) => b.toolUse)
    .map((b) => ({ id: b.toolUse!.toolUseId!, type: 'function' as const, function: { name: b.toolUse!.name!, arguments: JSON.stringify(b.toolUse!.input ?? {}) } }));
  return {
    id,
    object: 'chat.completion' as const,
    created,
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant' as const, content: text.length > 0 || toolCalls.length === 0 ? text : null, ...(toolCalls.length > 0 && { tool_calls: toolCalls }), refusal: null },
        finish_reason: finishReason(res.stopReason),
        logprobs: null,
      },
    ],
    usage: usageOf(res.usage),
  };
}

/**
 * Turns ConverseStream events into OpenAI chat.completion.chunk objects. OpenAI numbers tool calls
 * from 0 among tool calls only; Converse numbers all content blocks: this keeps the mapping.
 */
export class ChunkTranslator {
  private readonly toolIndexByBlock = new Map<number, number>();
  private finish: string | null = null;
  usage: ReturnType<typeof usageOf> | undefined;

  constructor(
    private readonly id: string,
    private readonly model: string,
    private readonly created: number,
  ) {}

  private chunk(delta: Record<string, unknown>, finishReasonValue: string | null = null) {
    return { id: this.id, object: 'chat.completion.chunk' as const, created: this.created, model: this.model, choices: [{ index: 0, delta, finish_reason: finishReasonValue, logprobs: null }] };
  }

  /** Zero or more chunks for one stream event. */
  translate(event: ConverseStreamOutput): object[] {
    if (event.messageStart) return [this.chunk({ role: 'assistant', content: '' })];
    if (event.contentBlockStart?.start?.toolUse) {
      const blockIndex = event.contentBlockStart.contentBlockIndex ?? 0;
      const toolIndex = this.toolIndexByBlock.size;
      this.toolIndexByBlock.set(blockIndex, toolIndex);
      const { toolUseId, name } = event.contentBlockStart.start.toolUse;
      return [this.chunk({ tool_calls: [{ index: toolIndex, id: toolUseId, type: 'function', function: { name, arguments: '' } }] })];
    }
    if (event.contentBlockDelta?.delta) {
      const delta = event.contentBlockDelta.delta;
      if (delta.text !== undefined) return [this.chunk({ content: delta.text })];
      if (delta.toolUse) {
        const toolIndex = this.toolIndexByBlock.get(event.contentBlockDelta.contentBlockIndex ?? 0) ?? 0;
        return [this.chunk({ tool_calls: [{ index: toolIndex, function: { arguments: delta.toolUse.input ?? '' } }] })];
      }
      return [];
    }
    if (event.messageStop) {
      this.finish = finishReason(event.messageStop.stopReason);
      return [this.chunk({}, this.finish)];
    }
    if (event.metadata) {
      this.usage = usageOf(event.metadata.usage);
      return [];
    }
    return [];
  }

  /** The usage chunk OpenAI sends last when `stream_options.include_usage` is set. */
  usageChunk() {
    return { id: this.id, object: 'chat.completion.chunk' as const, created: this.created, model: this.model, choices: [], usage: this.usage ?? usageOf(undefined) };
  }
}
