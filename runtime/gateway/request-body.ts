import { badRequest, GatewayError } from './errors';
import { GatewayRequest } from './types';

/** The request body as JSON: bounded in size, never empty. */
export function parseJsonBody(req: GatewayRequest, maxBodyBytes: number): unknown {
  const body = req.body ?? '';
  if (Buffer.byteLength(body, 'utf8') > maxBodyBytes) {
    throw new GatewayError(413, 'invalid_request_error', `The request body is larger than ${maxBodyBytes} bytes.`, 'request_too_large');
  }
  if (body.trim() === '') throw badRequest('The request body is empty; send a JSON object.');
  try {
    return JSON.parse(body);
  } catch (e) {
    throw badRequest(`The request body is not valid JSON: ${(e as Error).message}`);
  }
}
