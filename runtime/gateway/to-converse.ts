import type { ContentBlock, ConverseRequest, ImageFormat, Message, SystemContentBlock, Tool, ToolChoice } from '@aws-sdk/client-bedrock-runtime';
import type { DocumentType } from '@smithy/types';
import { badRequest } from './errors';
import { ownEntry } from './json';
import { decodeMedia } from './media';
import { BedrockChatRequest, ChatCompletionRequest, ChatMessage } from './openai-schema';
import { forcedTool, nativeOutputConfig, StructuredOutput } from './structured-output';

const IMAGE_FORMATS: Record<string, ImageFormat> = { 'image/png': 'png', 'image/jpeg': 'jpeg', 'image/jpg': 'jpeg', 'image/gif': 'gif', 'image/webp': 'webp' };

type Converse = Omit<ConverseRequest, 'modelId'>;

/** Bedrock applies the configured guardrail to every call. */
export const guardrailConfig = (guardrail: { id: string; version: string }) => ({ guardrailIdentifier: guardrail.id, guardrailVersion: guardrail.version });

/** What the route adds to the request: the deployment's guardrail and the model's prompt caching. */
export interface ConverseOptions {
  readonly guardrail?: { id: string; version: string };
  /** Where cache points go (runtime-config models[].promptCaching). @default off */
  readonly promptCaching?: 'off' | 'system' | 'system-and-tools';
  /**
   * The model takes Converse's strict tool use (toolSpec.strict: the models with structured outputs).
   * Off (Nova): a tool's `strict` is not sent; Nova decodes every tool input under its schema anyway.
   */
  readonly strictTools?: boolean;
}

/** A Converse cache point: the prompt up to it is cached (Bedrock ignores one below the model's minimum prefix). */
const CACHE_POINT = { cachePoint: { type: 'default' as const } };

/** OpenAI chat completion request -> Bedrock Converse request (without modelId). */
export function toConverse(chat: BedrockChatRequest, opts: ConverseOptions = {}): Converse {
  const req = chat.body;
  const system: SystemContentBlock[] = [];
  const messages: Message[] = [];

  req.messages.forEach((m, i) => {
    if (m.role === 'system' || m.role === 'developer') {
      system.push({ text: textOf(m.content) });
      return;
    }
    const role = m.role === 'assistant' ? 'assistant' : 'user';
    const blocks = contentBlocks(m, i);
    if (blocks.length === 0) return;
    // Converse wants roles to alternate: consecutive user/tool messages become one user turn.
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.content!.push(...blocks);
    else messages.push({ role, content: blocks });
  });

  if (messages.length === 0 || messages[0].role !== 'user') {
    throw badRequest('the conversation must contain a user message before any assistant message', 'messages', 'invalid_conversation');
  }

  const maxTokens = req.max_completion_tokens ?? req.max_tokens;
  const stop = typeof req.stop === 'string' ? [req.stop] : req.stop;
  const inferenceConfig = {
    ...(maxTokens !== undefined && { maxTokens }),
    ...(req.temperature !== undefined && { temperature: req.temperature }),
    ...(req.top_p !== undefined && { topP: req.top_p }),
    ...(stop && stop.length > 0 && { stopSequences: stop }),
  };

  const caching = opts.promptCaching ?? 'off';
  // Cache points mark the static prefix: the system prompt (and the tools, which Converse puts before it).
  if (caching !== 'off' && system.length > 0) system.push(CACHE_POINT);
  const out: Converse = { messages, ...(system.length > 0 && { system }), ...(Object.keys(inferenceConfig).length > 0 && { inferenceConfig }) };
  const toolConfig = chat.structuredOutput?.mode === 'tool' ? forcedToolConfig(chat.structuredOutput) : toolsOf(req, opts.strictTools === true);
  if (toolConfig) {
    if (caching === 'system-and-tools') toolConfig.tools!.push(CACHE_POINT);
    out.toolConfig = toolConfig;
  }
  if (chat.structuredOutput?.mode === 'native') out.outputConfig = nativeOutputConfig(chat.structuredOutput);
  // Nova 2's reasoning switch (it is off unless asked): Converse has no field of its own for it.
  if (chat.reasoningEffort) out.additionalModelRequestFields = { reasoningConfig: { type: 'enabled', maxReasoningEffort: chat.reasoningEffort } };
  if (chat.serviceTier) out.serviceTier = { type: chat.serviceTier };
  if (opts.guardrail) out.guardrailConfig = guardrailConfig(opts.guardrail);
  return out;
}

/** The one tool the model must call for a `tool`-mode structured answer. */
function forcedToolConfig(plan: StructuredOutput): NonNullable<Converse['toolConfig']> {
  return { tools: [forcedTool(plan)], toolChoice: { tool: { name: plan.name } } };
}

function textOf(content: string | { text: string }[] | null | undefined): string {
  if (content === null || content === undefined) return '';
  return typeof content === 'string' ? content : content.map((p) => p.text).join('');
}

function contentBlocks(m: Exclude<ChatMessage, { role: 'system' | 'developer' }>, index: number): ContentBlock[] {
  switch (m.role) {
    case 'user':
      if (typeof m.content === 'string') return [{ text: m.content }];
      return m.content.map((part, j): ContentBlock => (part.type === 'text' ? { text: part.text } : { image: image(part.image_url.url, `messages[${index}].content[${j}]`) }));
    case 'assistant': {
      const blocks: ContentBlock[] = [];
      const text = textOf(m.content);
      if (text) blocks.push({ text });
      for (const call of m.tool_calls ?? []) {
        blocks.push({ toolUse: { toolUseId: call.id, name: call.function.name, input: parseArguments(call.function.arguments, index) as DocumentType } });
      }
      return blocks;
    }
    case 'tool':
      return [{ toolResult: { toolUseId: m.tool_call_id, content: [{ text: textOf(m.content) }] } }];
  }
}

/** Only data URLs: fetching an image URL from the gateway would reach out of China (and is an SSRF risk). */
function image(url: string, param: string) {
  const match = /^data:([a-z/+-]+);base64,(.*)$/s.exec(url);
  if (!match) throw badRequest('images must be data URLs (data:image/png;base64,...); the gateway does not fetch remote URLs', param, 'unsupported_image_url');
  const format = ownEntry(IMAGE_FORMATS, match[1]);
  if (!format) throw badRequest(`unsupported image type ${match[1]}; use png, jpeg, gif or webp`, param, 'unsupported_image_type');
  return { format, source: { bytes: decodeMedia('image', format, match[2], param) } };
}

function parseArguments(args: string, index: number): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(args || '{}');
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw badRequest('tool call arguments must be a JSON object', `messages[${index}].tool_calls`, 'invalid_tool_arguments');
}

function toolsOf(req: ChatCompletionRequest, strictTools: boolean): Converse['toolConfig'] {
  if (!req.tools || req.tools.length === 0 || req.tool_choice === 'none') {
    // Converse rejects toolUse/toolResult blocks without a toolConfig; OpenAI allows a history with tool calls and no tools.
    return undefined;
  }
  const tools: Tool[] = req.tools.map((t) => ({
    toolSpec: {
      name: t.function.name,
      description: t.function.description,
      inputSchema: { json: (t.function.parameters ?? { type: 'object', properties: {} }) as DocumentType },
      ...(strictTools && t.function.strict === true && { strict: true }),
    },
  }));
  let toolChoice: ToolChoice | undefined;
  if (req.tool_choice === 'required') toolChoice = { any: {} };
  else if (typeof req.tool_choice === 'object') {
    const name = req.tool_choice.function.name;
    if (!req.tools.some((t) => t.function.name === name)) throw badRequest(`tool_choice names "${name}", which is not in tools`, 'tool_choice', 'invalid_tool_choice');
    toolChoice = { tool: { name } };
  } else if (req.tool_choice === 'auto') toolChoice = { auto: {} };
  return { tools, ...(toolChoice && { toolChoice }) };
}
