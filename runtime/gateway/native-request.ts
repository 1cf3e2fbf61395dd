import { z } from 'zod';
import { badRequest } from './errors';
import { fromBedrockJson } from './native-wire';

/**
 * The shape of a Converse request as far as the SDK's serializer relies on it: wrong types there
 * (a string where a list is expected, a number for an object) make the serializer throw inside the
 * gateway. Everything within the blocks is Bedrock's to judge, and unknown fields pass through.
 */
const block = z.record(z.string(), z.unknown());
const NativeConverseSchema = z.looseObject({
  messages: z.array(z.looseObject({ role: z.enum(['user', 'assistant']), content: z.array(block) })).optional(),
  system: z.array(block).optional(),
  inferenceConfig: z
    .looseObject({
      maxTokens: z.number().int().positive().optional(),
      temperature: z.number().optional(),
      topP: z.number().optional(),
      stopSequences: z.array(z.string()).optional(),
    })
    .optional(),
  toolConfig: z.looseObject({ tools: z.array(block), toolChoice: block.optional() }).optional(),
  guardrailConfig: block.optional(),
  additionalModelRequestFields: z.unknown().optional(),
  additionalModelResponseFieldPaths: z.array(z.string()).optional(),
  promptVariables: z.record(z.string(), block).optional(),
  requestMetadata: z.record(z.string(), z.string()).optional(),
  performanceConfig: block.optional(),
});

/** A caller's Converse JSON -> SDK input (without modelId): shape and media checked, blobs decoded. */
export function nativeConverseInput(body: unknown): Record<string, unknown> {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw badRequest('The Converse request must be a JSON object.', null, 'invalid_value');
  const parsed = NativeConverseSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const param = issue.path.map(String).join('.') || null;
    throw badRequest(`Invalid Converse request: ${param ?? 'body'}: ${issue.message}`, param, 'invalid_value');
  }
  return fromBedrockJson(body) as Record<string, unknown>;
}
