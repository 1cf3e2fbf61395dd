import type { OutputConfig, Tool } from '@aws-sdk/client-bedrock-runtime';
import type { DocumentType } from '@smithy/types';
import { z } from 'zod';
import { badRequest, GatewayError } from './errors';
import type { ModelEntry } from './models';
import type { ChatCompletionRequest } from './openai-schema';

/**
 * OpenAI's `response_format` on the Bedrock route. Two ways to make Converse answer in JSON:
 * - `native`: Converse's outputConfig.textFormat (Bedrock structured outputs, for the models that
 *   have it): the answer is text constrained to the schema;
 * - `tool`: one tool whose input schema is the schema, forced with toolChoice {tool}: Nova decodes
 *   tool input under the schema's grammar (constrained decoding), so its input is the answer. The
 *   caller sees it as the message content, never as a tool call.
 * `json_object` always takes the forced tool with an open object schema: a tool's input is a JSON
 * object by construction, where an instruction in the prompt could still come back wrapped in prose
 * or code fences.
 */
export interface StructuredOutput {
  readonly mode: 'native' | 'tool';
  readonly kind: 'json_object' | 'json_schema';
  /** The schema's name: the forced tool's name too. */
  readonly name: string;
  readonly description?: string;
  readonly schema: Record<string, unknown>;
  /** Set for `strict` schemas: the answer must match the schema, not only parse. */
  readonly validator?: z.ZodType;
}

/** What json_object asks for: any JSON object. */
const ANY_OBJECT = { type: 'object', additionalProperties: true };

/** The name of the forced tool for json_object (json_schema uses the schema's name). */
export const JSON_OBJECT_TOOL = 'json_object';

/**
 * How `response_format` is honoured for `model`, or undefined for plain text. Refuses (400) what
 * the chosen way cannot serve: caller tools next to a forced tool (the model could only call ours),
 * a non-object schema as a tool input, a strict schema the gateway cannot check.
 */
export function structuredOutputOf(req: ChatCompletionRequest, model: ModelEntry, route: string): StructuredOutput | undefined {
  const format = req.response_format;
  if (!format || format.type === 'text') return undefined;
  const mode = format.type === 'json_schema' && model.structuredOutput === 'native' ? 'native' : 'tool';
  if (mode === 'tool' && req.tools && req.tools.length > 0 && req.tool_choice !== 'none') {
    throw badRequest(
      `"response_format" (${format.type}) and "tools" cannot be combined on ${route}: it answers in JSON through a forced tool, so the model could not call yours. Send one of them, or choose a model served by vLLM or a provider.`,
      'response_format',
      'unsupported_combination',
    );
  }
  if (format.type === 'json_object') return { mode, kind: 'json_object', name: JSON_OBJECT_TOOL, description: 'Your complete answer, as one JSON object.', schema: ANY_OBJECT };
  const { name, description, strict } = format.json_schema;
  const schema = format.json_schema.schema ?? ANY_OBJECT;
  if (mode === 'tool' && schema.type !== 'object') {
    throw badRequest(
      `"response_format.json_schema.schema" must describe an object ({"type": "object", ...}) on ${route}: the model fills it in as a tool input, which is always a JSON object.`,
      'response_format.json_schema.schema',
      'unsupported_value',
    );
  }
  return { mode, kind: 'json_schema', name, description, schema, ...(strict === true && { validator: validatorOf(schema) }) };
}

function validatorOf(schema: Record<string, unknown>): z.ZodType {
  try {
    return z.fromJSONSchema(schema as Parameters<typeof z.fromJSONSchema>[0]);
  } catch (error) {
    throw badRequest(
      `"response_format.json_schema.schema" cannot be checked by the gateway (strict): ${(error as Error).message}. Simplify the schema or send strict: false.`,
      'response_format.json_schema.schema',
      'unsupported_schema',
    );
  }
}

/** The forced tool for the `tool` mode. */
export function forcedTool(plan: StructuredOutput): Tool {
  const purpose = 'Reply by calling this tool: its input is your complete answer.';
  return {
    toolSpec: {
      name: plan.name,
      description: plan.description ? `${plan.description} ${purpose}` : purpose,
      inputSchema: { json: plan.schema as DocumentType },
    },
  };
}

/** Converse's structured output setting for the `native` mode (the schema goes as a JSON string). */
export function nativeOutputConfig(plan: StructuredOutput): OutputConfig {
  return {
    textFormat: {
      type: 'json_schema',
      structure: { jsonSchema: { schema: JSON.stringify(plan.schema), name: plan.name, ...(plan.description && { description: plan.description }) } },
    },
  };
}

/**
 * Checks the answer's content: it must parse (a JSON object for json_object) and, for strict
 * schemas, match the schema. Otherwise the caller gets a 502 naming what is wrong, not content it
 * cannot parse.
 */
export function checkStructuredAnswer(plan: StructuredOutput, content: string, finishReason: string | null): void {
  const cutOff = finishReason === 'length' ? ' (the answer was cut off at the token limit: raise max_tokens)' : '';
  let value: unknown;
  try {
    value = JSON.parse(content);
  } catch {
    throw invalid(`The model's answer is not valid JSON${cutOff}.`);
  }
  if (plan.kind === 'json_object' && (typeof value !== 'object' || value === null || Array.isArray(value))) throw invalid(`The model's answer is not a JSON object${cutOff}.`);
  if (!plan.validator) return;
  const checked = plan.validator.safeParse(value);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw invalid(`The model's answer does not match the schema "${plan.name}" (strict): ${issue.path.join('.') || 'the value'}: ${issue.message}${cutOff}.`);
  }
}

const invalid = (message: string) => new GatewayError(502, 'api_error', message, 'invalid_structured_output');
