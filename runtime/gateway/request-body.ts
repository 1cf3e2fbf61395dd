import { badRequest, GatewayError } from './errors';
import { GatewayRequest } from './types';

/**
 * Deepest nesting of arrays and objects accepted in a request body. The validators, the Converse
 * translation and the SDK's serializers all recurse: an unbounded depth would exhaust the stack
 * (a 5xx) long before Bedrock could refuse it. Real tool schemas stay far below.
 */
export const MAX_JSON_DEPTH = 64;

/** The request body as JSON: bounded in size and depth, never empty. */
export function parseJsonBody(req: GatewayRequest, maxBodyBytes: number): unknown {
  const body = req.body ?? '';
  if (Buffer.byteLength(body, 'utf8') > maxBodyBytes) {
    throw new GatewayError(413, 'invalid_request_error', `The request body is larger than ${maxBodyBytes} bytes.`, 'request_too_large');
  }
  if (body.trim() === '') throw badRequest('The request body is empty; send a JSON object.', null, 'empty_body');
  let value: unknown;
  try {
    // V8 parses iteratively: any depth parses; what comes after it is what must be bounded.
    value = JSON.parse(body);
  } catch (e) {
    throw badRequest(`The request body is not valid JSON: ${(e as Error).message}`, null, 'invalid_json');
  }
  const depth = exceedsDepth(value, MAX_JSON_DEPTH);
  if (depth) throw badRequest(`The request body nests arrays/objects deeper than ${MAX_JSON_DEPTH} levels (at ${depth}); flatten it.`, depth, 'json_too_deep');
  return value;
}

/** The path of the first value nested deeper than `limit`, or undefined. Iterative: any depth is safe to check. */
export function exceedsDepth(root: unknown, limit: number): string | undefined {
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: root, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') continue;
    if (depth >= limit) return path || 'body';
    for (const [key, child] of Object.entries(value)) {
      if (child !== null && typeof child === 'object') stack.push({ value: child, depth: depth + 1, path: path ? `${path}.${key}` : key });
    }
  }
  return undefined;
}

/** One percent-encoded path segment (a model id); malformed encoding is the caller's error, not ours. */
export function decodePathSegment(segment: string, param: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw badRequest(`The path segment "${segment}" is not valid percent-encoding (UTF-8).`, param, 'invalid_path');
  }
}
