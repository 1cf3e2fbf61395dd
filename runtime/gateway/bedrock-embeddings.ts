import { InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { guarded } from './attempt-guard';
import type { EmbeddingInputs, EmbeddingsRequest } from './embeddings';
import { badRequest, GatewayError } from './errors';
import { attemptLimits, Call, GatewayContext } from './handler-context';
import { ClearedModel } from './residency';
import { chunks, mapBounded, partOf } from './upstream-json';

/** Vectors in input order, and the input tokens Bedrock counted (undefined when it did not say). */
export interface EmbeddingVectors {
  readonly vectors: number[][];
  readonly inputTokens?: number;
}

type InputType = EmbeddingsRequest['input_type'];

/** One Bedrock embedding model family's InvokeModel body and answer (each documents its own). */
interface EmbeddingFamily {
  readonly name: string;
  /** Texts one InvokeModel call takes. */
  readonly textsPerCall: number;
  /** The `dimensions` it accepts; empty: it has one fixed size and takes no `dimensions`. */
  readonly dimensions: readonly number[];
  body(texts: string[], dimensions: number | undefined, inputType: InputType): object;
  /** The vectors of one answer (as many as texts were sent). */
  vectors(answer: Record<string, any>): number[][];
  /** Input tokens reported in the body (Titan); the others report them in a response header. */
  bodyTokens?(answer: Record<string, any>): number | undefined;
}

/** Nova's embeddingPurpose for the kit's input_type (indexing is the default, as for Cohere's search_document). */
const NOVA_PURPOSE: Record<NonNullable<InputType>, string> = {
  search_document: 'GENERIC_INDEX',
  search_query: 'GENERIC_RETRIEVAL',
  classification: 'CLASSIFICATION',
  clustering: 'CLUSTERING',
};

const FAMILIES: readonly { readonly id: RegExp; readonly family: EmbeddingFamily }[] = [
  {
    // Titan Text Embeddings V2: one text per call; 256, 512 or 1024 dimensions (default 1024).
    id: /^amazon\.titan-embed-text-v2/,
    family: {
      name: 'Titan Text Embeddings V2',
      textsPerCall: 1,
      dimensions: [256, 512, 1024],
      body: ([text], dimensions) => ({ inputText: text, ...(dimensions !== undefined && { dimensions }), normalize: true }),
      vectors: (answer) => [answer.embedding],
      bodyTokens: (answer) => (typeof answer.inputTextTokenCount === 'number' ? answer.inputTextTokenCount : undefined),
    },
  },
  {
    // Nova Multimodal Embeddings: one input per synchronous call (SINGLE_EMBEDDING); 256, 384, 1024 or 3072 dimensions.
    id: /^amazon\.nova-2-multimodal-embeddings/,
    family: {
      name: 'Nova Multimodal Embeddings',
      textsPerCall: 1,
      dimensions: [256, 384, 1024, 3072],
      body: ([text], dimensions, inputType) => ({
        schemaVersion: 'nova-multimodal-embed-v1',
        taskType: 'SINGLE_EMBEDDING',
        singleEmbeddingParams: {
          embeddingPurpose: NOVA_PURPOSE[inputType ?? 'search_document'],
          embeddingDimension: dimensions ?? 3072,
          text: { truncationMode: 'END', value: text },
        },
      }),
      vectors: (answer) => (Array.isArray(answer.embeddings) ? answer.embeddings.map((e: { embedding: number[] }) => e.embedding) : []),
    },
  },
  {
    // Cohere Embed v3 (English, multilingual): up to 96 texts per call, 1024 dimensions, input_type required.
    id: /^cohere\.embed-/,
    family: {
      name: 'Cohere Embed v3',
      textsPerCall: 96,
      dimensions: [],
      body: (texts, _dimensions, inputType) => ({ texts, input_type: inputType ?? 'search_document', embedding_types: ['float'], truncate: 'END' }),
      // embedding_types asks for {float: [...]}; without it Cohere answers a plain list.
      vectors: (answer) => (Array.isArray(answer.embeddings) ? answer.embeddings : (answer.embeddings?.float ?? [])),
    },
  },
];

/** The family of a Bedrock embedding model by its id (a profile prefix aside), or a 400 naming the ones the gateway speaks. */
export function embeddingFamily(modelId: string): EmbeddingFamily {
  const bare = modelId.replace(/^(us|global|eu|apac)\./, '');
  const found = FAMILIES.find((f) => f.id.test(bare));
  if (!found) {
    throw new GatewayError(400, 'invalid_request_error', `The gateway does not know the request format of the Bedrock embedding model ${modelId}; it speaks ${FAMILIES.map((f) => f.family.name).join(', ')}.`, 'unsupported_model');
  }
  return found.family;
}

/**
 * Embeddings from a Bedrock model through InvokeModel: the request checked against what the model
 * takes, texts split into calls of the size it takes (Titan and Nova: one), at most
 * `embeddingConcurrency` in flight, vectors reassembled in input order.
 */
export async function bedrockEmbeddings(ctx: GatewayContext, call: Call, body: EmbeddingsRequest, inputs: EmbeddingInputs, model: ClearedModel) {
  const family = embeddingFamily(model.modelId);
  if (!('texts' in inputs)) {
    throw badRequest(`Invalid request: input: "${body.model}" (Bedrock ${family.name}) embeds text only; send strings, not token ids.`, 'input', 'unsupported_input');
  }
  if (body.dimensions !== undefined && !family.dimensions.includes(body.dimensions)) {
    const allowed = family.dimensions.length > 0 ? `one of ${family.dimensions.join(', ')}` : 'left out (its size is fixed)';
    throw badRequest(`Invalid request: dimensions: ${body.dimensions} is not a size "${body.model}" (Bedrock ${family.name}) produces; it must be ${allowed}.`, 'dimensions', 'unsupported_dimensions');
  }
  const batches = chunks(inputs.texts, family.textsPerCall);
  const answers = await mapBounded(batches, ctx.config.embeddingConcurrency, (texts, _i, failed) => {
    const part = partOf(call, failed);
    const limits = attemptLimits(ctx, part);
    return ctx.bedrock.call(
      (client) => guarded(limits, (guard) => invokeJson(client, model.modelId, family.body(texts, body.dimensions, body.input_type), guard.signal)),
      { model, signal: part.req.signal, deadline: call.deadline, now: ctx.now },
    );
  });
  const vectors: number[][] = [];
  let tokens = 0;
  let counted = true;
  answers.forEach((answer, i) => {
    const got = family.vectors(answer.json);
    if (got.length !== batches[i].length || got.some((v) => !Array.isArray(v))) {
      throw new GatewayError(502, 'api_error', `Bedrock answered ${got.length} embeddings for ${batches[i].length} texts (${model.modelId}).`, 'upstream_bad_response');
    }
    vectors.push(...got);
    const t = family.bodyTokens?.(answer.json) ?? answer.headerTokens;
    if (t === undefined) counted = false;
    else tokens += t;
  });
  const served: EmbeddingVectors = { vectors, inputTokens: counted ? tokens : undefined };
  return { body: embeddingsResponse(served, body.model, body.encoding_format), inputTokens: served.inputTokens };
}

/** OpenAI's response body for vectors the gateway computed (Bedrock), in the encoding asked for. */
export function embeddingsResponse(vectors: EmbeddingVectors, alias: string, encoding: 'float' | 'base64' | undefined) {
  return {
    object: 'list',
    data: vectors.vectors.map((vector, index) => ({ object: 'embedding', index, embedding: encoding === 'base64' ? base64Floats(vector) : vector })),
    model: alias,
    usage: { prompt_tokens: vectors.inputTokens ?? 0, total_tokens: vectors.inputTokens ?? 0 },
  };
}

/** OpenAI's base64 encoding: the vector's float32 values, little-endian, base64. */
export function base64Floats(vector: readonly number[]): string {
  const bytes = Buffer.alloc(vector.length * 4);
  vector.forEach((v, i) => bytes.writeFloatLE(v, i * 4));
  return bytes.toString('base64');
}

/** The header in which InvokeModel reports the input tokens it billed. */
const INPUT_TOKENS_HEADER = 'x-amzn-bedrock-input-token-count';

/** InvokeModel with a JSON body; the answer parsed, with the input token count from the response header. */
async function invokeJson(client: { send: (command: InvokeModelCommand, options: object) => Promise<{ body?: Uint8Array }> }, modelId: string, body: object, signal: AbortSignal) {
  const command = new InvokeModelCommand({ modelId, body: JSON.stringify(body), contentType: 'application/json', accept: 'application/json' });
  let headerTokens: number | undefined;
  // The SDK's output leaves response headers out: read the one that meters the call as it passes.
  command.middlewareStack.add(
    (next) => async (args) => {
      const result = await next(args);
      const headers = (result.response as { headers?: Record<string, string> }).headers ?? {};
      const value = Number(headers[INPUT_TOKENS_HEADER]);
      if (Number.isInteger(value) && value >= 0) headerTokens = value;
      return result;
    },
    { step: 'deserialize', name: 'cnllmInputTokenCount' },
  );
  const res = await client.send(command, { abortSignal: signal });
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(res.body ?? new Uint8Array()).toString('utf8'));
  } catch {
    throw new GatewayError(502, 'api_error', `Bedrock answered ${modelId} with a body that is not JSON.`, 'upstream_bad_response');
  }
  if (!json || typeof json !== 'object') throw new GatewayError(502, 'api_error', `Bedrock answered ${modelId} with a body that is not a JSON object.`, 'upstream_bad_response');
  return { json: json as Record<string, any>, headerTokens };
}
