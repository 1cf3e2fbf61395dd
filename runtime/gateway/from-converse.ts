import type { ContentBlock, ConverseResponse, ConverseStreamOutput, StopReason, TokenUsage } from '@aws-sdk/client-bedrock-runtime';
import type { Outcome } from './request-log';
import type { StructuredOutput } from './structured-output';

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

/**
 * Converse usage -> OpenAI usage. Converse counts cache reads and writes apart from inputTokens (the
 * uncached rest); OpenAI's prompt_tokens counts every prompt token, cached ones among them. Converse
 * does not count reasoning tokens apart: they are in completion_tokens, with no details.
 */
export function usageOf(usage: TokenUsage | undefined) {
  const cacheRead = usage?.cacheReadInputTokens ?? 0;
  const cacheWrite = usage?.cacheWriteInputTokens ?? 0;
  const prompt = (usage?.inputTokens ?? 0) + cacheRead + cacheWrite;
  const completion = usage?.outputTokens ?? 0;
  const cacheReported = usage?.cacheReadInputTokens !== undefined || usage?.cacheWriteInputTokens !== undefined;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: usage?.totalTokens ?? prompt + completion,
    ...(cacheReported && { prompt_tokens_details: { cached_tokens: cacheRead } }),
  };
}

export type ChatUsage = ReturnType<typeof usageOf>;

/**
 * Converse usage as the request log meters it, the same on the chat and the native routes: every
 * prompt token (cached ones too), and among them those read from the cache.
 */
export function meterUsage(outcome: Pick<Outcome, 'inputTokens' | 'outputTokens' | 'cachedTokens'>, usage: TokenUsage | undefined): ChatUsage {
  const counted = usageOf(usage);
  outcome.inputTokens = counted.prompt_tokens;
  outcome.outputTokens = counted.completion_tokens;
  if (counted.prompt_tokens_details) outcome.cachedTokens = counted.prompt_tokens_details.cached_tokens;
  return counted;
}

/** Reasoning text of a reasoningContent block (Nova 2 Lite sends it redacted: the text is then "[REDACTED]", or the block carries only redactedContent). */
function reasoningTextOf(block: ContentBlock): string {
  return block.reasoningContent?.reasoningText?.text ?? '';
}

/** Converse response -> OpenAI chat.completion. With a `tool`-mode structured output, the forced tool's input is the answer. */
export function toChatCompletion(res: ConverseResponse, id: string, model: string, created: number, structured?: StructuredOutput) {
  const blocks = res.output?.message?.content ?? [];
  const reasoning = blocks.map(reasoningTextOf).join('');
  let text: string;
  let toolCalls: { id: string; type: 'function'; function: { name: string; arguments: string } }[] = [];
  let finish = finishReason(res.stopReason);
  if (structured?.mode === 'tool') {
    // Text beside the forced tool call is not the answer (the caller asked for JSON only).
    const answer = blocks.find((b) => b.toolUse?.name === structured.name)?.toolUse;
    text = answer ? JSON.stringify(answer.input ?? {}) : '';
    if (finish === 'tool_calls') finish = 'stop';
  } else {
    text = blocks.map((b) => b.text ?? '').join('');
    toolCalls = blocks
      .filter((b) => b.toolUse)
      .map((b) => ({ id: b.toolUse!.toolUseId!, type: 'function' as const, function: { name: b.toolUse!.name!, arguments: JSON.stringify(b.toolUse!.input ?? {}) } }));
  }
  return {
    id,
    object: 'chat.completion' as const,
    created,
    model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant' as const,
          content: text.length > 0 || toolCalls.length === 0 ? text : null,
          ...(reasoning.length > 0 && { reasoning_content: reasoning }),
          ...(toolCalls.length > 0 && { tool_calls: toolCalls }),
          refusal: null,
        },
        finish_reason: finish,
        logprobs: null,
      },
    ],
    usage: usageOf(res.usage),
    // The tier that served the request, when Bedrock says (OpenAI reports it the same way).
    ...(res.serviceTier?.type && { service_tier: res.serviceTier.type }),
  };
}

/**
 * Turns ConverseStream events into OpenAI chat.completion.chunk objects. OpenAI numbers tool calls
 * from 0 among tool calls only; Converse numbers all content blocks: this keeps the mapping.
 * Reasoning deltas become `reasoning_content` deltas (never content). With a `tool`-mode structured
 * output, the forced tool's input deltas are the content deltas.
 */
export class ChunkTranslator {
  private readonly toolIndexByBlock = new Map<number, number>();
  /** Block index of the forced tool's call (tool-mode structured output). */
  private answerBlock?: number;
  private finish: string | null = null;
  usage: ChatUsage | undefined;
  /** Converse's own usage of the stream (metadata event), for metering. */
  converseUsage: TokenUsage | undefined;
  /** The tier that served the stream (ConverseStream's metadata event), reported in the usage chunk. */
  serviceTier?: string;
  /** The content sent so far: what a structured answer is checked against, and what the content log keeps. */
  content = '';

  constructor(
    private readonly id: string,
    private readonly model: string,
    private readonly created: number,
    private readonly structured?: StructuredOutput,
  ) {}

  /** The finish reason sent with the last chunk (null before messageStop). */
  get finishReason(): string | null {
    return this.finish;
  }

  private chunk(delta: Record<string, unknown>, finishReasonValue: string | null = null) {
    return { id: this.id, object: 'chat.completion.chunk' as const, created: this.created, model: this.model, choices: [{ index: 0, delta, finish_reason: finishReasonValue, logprobs: null }] };
  }

  private contentChunk(text: string) {
    this.content += text;
    return [this.chunk({ content: text })];
  }

  /** Zero or more chunks for one stream event. */
  translate(event: ConverseStreamOutput): object[] {
    if (event.messageStart) return [this.chunk({ role: 'assistant', content: '' })];
    const toolMode = this.structured?.mode === 'tool';
    if (event.contentBlockStart?.start?.toolUse) {
      const blockIndex = event.contentBlockStart.contentBlockIndex ?? 0;
      const { toolUseId, name } = event.contentBlockStart.start.toolUse;
      if (toolMode) {
        if (name === this.structured!.name) this.answerBlock = blockIndex;
        return [];
      }
      const toolIndex = this.toolIndexByBlock.size;
      this.toolIndexByBlock.set(blockIndex, toolIndex);
      return [this.chunk({ tool_calls: [{ index: toolIndex, id: toolUseId, type: 'function', function: { name, arguments: '' } }] })];
    }
    if (event.contentBlockDelta?.delta) {
      const delta = event.contentBlockDelta.delta;
      const blockIndex = event.contentBlockDelta.contentBlockIndex ?? 0;
      if (delta.reasoningContent) return delta.reasoningContent.text ? [this.chunk({ reasoning_content: delta.reasoningContent.text })] : [];
      if (delta.text !== undefined) return toolMode ? [] : this.contentChunk(delta.text);
      if (delta.toolUse) {
        if (toolMode) return blockIndex === this.answerBlock && delta.toolUse.input ? this.contentChunk(delta.toolUse.input) : [];
        const toolIndex = this.toolIndexByBlock.get(blockIndex) ?? 0;
        return [this.chunk({ tool_calls: [{ index: toolIndex, function: { arguments: delta.toolUse.input ?? '' } }] })];
      }
      return [];
    }
    if (event.messageStop) {
      this.finish = finishReason(event.messageStop.stopReason);
      if (toolMode && this.finish === 'tool_calls') this.finish = 'stop';
      return [this.chunk({}, this.finish)];
    }
    if (event.metadata) {
      this.converseUsage = event.metadata.usage;
      this.usage = usageOf(event.metadata.usage);
      this.serviceTier = event.metadata.serviceTier?.type;
      return [];
    }
    return [];
  }

  /** The usage chunk OpenAI sends last when `stream_options.include_usage` is set. */
  usageChunk() {
    return {
      id: this.id,
      object: 'chat.completion.chunk' as const,
      created: this.created,
      model: this.model,
      choices: [],
      usage: this.usage ?? usageOf(undefined),
      ...(this.serviceTier && { service_tier: this.serviceTier }),
    };
  }
}
