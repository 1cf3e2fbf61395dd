import * as http from 'http';
import { ProxyEvent, ProxyResult } from '../../runtime/gateway/api-gateway';
import { FuzzRequest } from './fuzz-requests';

/**
 * Sending fuzz requests and judging the answers, shared by the fuzz tests: no 5xx, no hang, no
 * transport error, and every 4xx with an error body an OpenAI client can read.
 */

/** Generous: the box running this may be busy; a hang is a request that never ends, not a slow one. */
export const PER_REQUEST_TIMEOUT_MS = 15_000;

export interface Answer {
  status: number;
  contentType: string;
  /** Lower-cased names. */
  headers: Record<string, string>;
  body: string;
}

/** What is wrong with one answer, or undefined when it is acceptable. */
export function problem(req: FuzzRequest, answer: Answer | 'hang' | Error): string | undefined {
  if (answer === 'hang') return `no answer within ${PER_REQUEST_TIMEOUT_MS} ms`;
  // Not instanceof: errors from Node's own modules come from another realm than the test's.
  if (typeof answer !== 'object' || !('status' in answer)) return `transport error: ${(answer as Error).message}`;
  if (answer.status >= 500) return `${answer.status}: ${answer.body.slice(0, 300)}`;
  if (answer.status < 400 || req.method.toUpperCase() === 'HEAD') return undefined;
  try {
    const error = (JSON.parse(answer.body) as { error?: Record<string, unknown> }).error;
    if (!error || typeof error.message !== 'string' || typeof error.type !== 'string' || typeof error.code !== 'string' || !('param' in error)) return `error body not OpenAI-shaped: ${answer.body.slice(0, 300)}`;
  } catch {
    return `error body not JSON: ${answer.body.slice(0, 300)}`;
  }
  return undefined;
}

export function withTimeout<T>(promise: Promise<T>, ms = PER_REQUEST_TIMEOUT_MS): Promise<T | 'hang'> {
  let timer: NodeJS.Timeout;
  return Promise.race([promise, new Promise<'hang'>((resolve) => (timer = setTimeout(() => resolve('hang'), ms)))]).finally(() => clearTimeout(timer));
}

/** Another check of an answer on top of `problem` (headers a route owes, say): what is wrong, or undefined. */
export type AnswerCheck = (req: FuzzRequest, answer: Answer) => string | undefined;

/**
 * Runs requests `concurrency` at a time and lists every problem (deduplicated by kind and symptom).
 * `warmUp` requests go first, one at a time, and must answer 200: loading an SDK on the first call
 * must not count as a hang.
 */
export async function run(requests: FuzzRequest[], send: (req: FuzzRequest) => Promise<Answer>, concurrency: number, warmUp: readonly FuzzRequest[] = [], check?: AnswerCheck): Promise<string[]> {
  for (const req of warmUp) {
    const answer = await send(req);
    if (answer.status !== 200) throw new Error(`warm-up ${req.method} ${req.path} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
  }
  const problems = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const req = requests[next++];
      const answer = await withTimeout(send(req)).catch((e: Error) => e);
      const found = problem(req, answer) ?? (check && typeof answer === 'object' && 'status' in answer ? check(req, answer) : undefined);
      if (found) problems.set(`${req.kind} ${found.slice(0, 60)}`, `${req.kind} ${req.method} ${req.path.slice(0, 80)} body=${(req.body ?? '').slice(0, 120)} -> ${found}`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return [...problems.values()];
}

/**
 * Methods Node's HTTP parser knows: it answers any other with an empty 400 before the host sees the
 * request (as API Gateway and the load balancer refuse them), so they say nothing about the gateway.
 */
export const onTheWire = (req: FuzzRequest) => http.METHODS.includes(req.method);

/** A raw HTTP request: any method, path and header; optionally a body cut short by hanging up. */
export function httpSend(base: string, extraHeaders: Record<string, string> = {}) {
  return (req: FuzzRequest): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const url = new URL(base);
      const body = req.body === undefined ? undefined : Buffer.from(req.body, 'utf8');
      const headers: Record<string, string | number> = { ...req.headers, ...extraHeaders };
      if (body) headers['content-length'] = req.partialBody ? body.length + 100 : body.length;
      // On the wire a path is ASCII: clients percent-encode the rest (malformed escapes stay as they are).
      const path = req.path.replace(/[^\x21-\x7e]/g, (c) => encodeURIComponent(c));
      // On the wire a header value is Latin-1 at most: clients refuse to send the rest.
      for (const [k, v] of Object.entries(headers)) if (typeof v === 'string' && /[^\t\x20-\x7e]/.test(v)) headers[k] = encodeURIComponent(v);
      const client = http.request({ host: url.hostname, port: url.port, method: req.method, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), headers: flat(res.headers), body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      client.on('error', (e) => (req.partialBody ? resolve({ status: 0, contentType: '', headers: {}, body: '' }) : reject(e)));
      if (req.partialBody) {
        client.write(body!.subarray(0, Math.floor(body!.length / 2)));
        setTimeout(() => client.destroy(), 20);
        return;
      }
      client.end(body);
    });
}

function flat(headers: http.IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : String(v ?? '')]));
}

/** Fuzz requests as API Gateway hands them to the Lambda: the path decoded as it arrived, the body as text or base64. */
export function proxySend(handle: (event: ProxyEvent) => Promise<ProxyResult>) {
  return async (req: FuzzRequest): Promise<Answer> => {
    const base64 = req.kind.length % 3 === 0;
    const result = await handle({
      httpMethod: req.method,
      path: req.path.split('?')[0],
      headers: req.headers,
      body: req.body === undefined ? null : base64 ? Buffer.from(req.body).toString('base64') : req.body,
      isBase64Encoded: base64,
      requestContext: { requestId: 'fuzz', identity: { userArn: 'arn:aws-cn:iam::111122223333:user/fuzz' } },
    });
    const headers = Object.fromEntries(Object.entries(result.headers).map(([k, v]) => [k.toLowerCase(), v]));
    return { status: result.statusCode, contentType: headers['content-type'] ?? '', headers, body: result.isBase64Encoded ? '' : result.body };
  };
}

/**
 * The Lambda host as deployed: its handler, configured from the environment, fed proxy events. Its
 * log line per request goes to stdout, muted here (thousands would drown the test output) until
 * `restore`, which also puts the environment back.
 */
export async function lambdaHostFromEnv(gatewayConfig: object): Promise<{ send: (req: FuzzRequest) => Promise<Answer>; restore: () => void }> {
  const saved = { ...process.env };
  Object.assign(process.env, { CNLLM_GATEWAY_CONFIG: JSON.stringify(gatewayConfig), AWS_ACCESS_KEY_ID: 'AKIAFUZZ', AWS_SECRET_ACCESS_KEY: 's', AWS_REGION: 'cn-northwest-1' });
  const write = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const restore = () => {
    write.mockRestore();
    process.env = saved;
  };
  try {
    const { handler } = await import('../../runtime/gateway/lambda');
    return { send: proxySend((event) => handler(event, { getRemainingTimeInMillis: () => 28_000 })), restore };
  } catch (e) {
    restore();
    throw e;
  }
}
