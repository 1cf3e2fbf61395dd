import { GatewayRequest } from '../gateway/types';

/** Tokens an image is assumed to take (Nova and GPT-4o class models bill ~1-2k per image). */
const TOKENS_PER_IMAGE = 1600;
/** Base64 runs this long are images or documents, not text: counting their bytes as text would overstate them a hundredfold. */
const BINARY_RUN = /[A-Za-z0-9+/=]{1000,}/g;
/** Keys, not text: inside a JSON string a quote is escaped, so an unescaped `"max_tokens":` is the field itself. */
const MAX_TOKENS = /(?<!\\)"(?:max_tokens|max_completion_tokens|maxTokens)"\s*:\s*(\d+)/;
const MODEL_FIELD = /(?<!\\)"model"\s*:\s*"([^"\\]{1,200})"/;
const NATIVE_PATH = /^\/model\/([^/]+)\/(converse|converse-stream)\/?$/;
const GENERATING_PATHS = /\/(chat\/completions|completions|converse|converse-stream|responses)\/?$/;
/**
 * The most output one request is counted for before it runs. A caller's max_tokens has as many
 * digits as it likes (400 of them parse to Infinity); no model generates more than this in one
 * answer and the route refuses a larger max_tokens, so counting more would only hold a group's
 * counters hostage while the request is in flight (and Infinity minus Infinity at settlement left a
 * counter NaN: the group refused until its month ended).
 */
export const MAX_ESTIMATED_OUTPUT_TOKENS = 1_000_000;

export interface Estimate {
  readonly model?: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/**
 * What a request will use, before it is made, from its text alone (no JSON parse on the hot path):
 * input ~ one token per 3 UTF-8 bytes (English runs ~4 characters a token, Chinese ~1 character of
 * 3 bytes; both are over-estimated, and settlement corrects it), output = its max_tokens, or
 * `defaultOutputTokens` for a generating route that sets none.
 */
export function estimateRequest(req: GatewayRequest, defaultOutputTokens: number): Estimate {
  const body = req.body ?? '';
  let images = 0;
  const textBytes = Buffer.byteLength(body.length > 1000 ? body.replace(BINARY_RUN, () => (images++, '')) : body, 'utf8');
  const native = NATIVE_PATH.exec(req.path);
  const model = native ? safeDecode(native[1]) : MODEL_FIELD.exec(body)?.[1];
  const maxTokens = MAX_TOKENS.exec(body)?.[1];
  const outputTokens = Math.min(maxTokens !== undefined ? Number(maxTokens) : GENERATING_PATHS.test(req.path) ? defaultOutputTokens : 0, MAX_ESTIMATED_OUTPUT_TOKENS);
  return { ...(model !== undefined && { model }), inputTokens: Math.ceil(textBytes / 3) + images * TOKENS_PER_IMAGE, outputTokens };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
