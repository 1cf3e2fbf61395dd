/**
 * The pipeline's only way to a model: the kit's gateway (or, locally, a student server), spoken
 * in OpenAI's protocol with plain fetch so every retry decision is visible here: 429 and 5xx and
 * broken connections are retried with backoff, honouring Retry-After, never past the caller's deadline.
 */
export interface ModelInfo {
  readonly id: string;
  /** The route processes data outside mainland China (the gateway's GET /v1/models field). */
  readonly cross_border?: boolean;
  readonly route?: string;
}

export interface ChatAnswer {
  readonly content: string;
  readonly reasoning_content?: string;
  readonly finish_reason: string | null;
  readonly usage?: Record<string, unknown>;
  readonly model?: string;
}

export class GatewayCallError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    readonly retryable: boolean,
    /** The retry the failure called for would not end before the caller's deadline. */
    readonly outOfTime = false,
  ) {
    super(message);
    this.name = 'GatewayCallError';
  }
}

export interface GatewayClientOptions {
  /** Base URL up to /v1. */
  readonly baseUrl: string;
  /** A signing fetch (sigv4Fetch) for the deployed REST API. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** @default 6 */
  readonly maxAttempts?: number;
  /** @default 1000 */
  readonly baseDelayMs?: number;
  /** Longest wait between attempts, Retry-After included. @default 60000 */
  readonly maxDelayMs?: number;
  /** One request's limit. @default 300000 */
  readonly timeoutMs?: number;
  /** Bearer key for an upstream that wants one (a local student server does not). */
  readonly apiKey?: string;
  readonly sleep?: (ms: number) => Promise<void>;
}

const RETRYABLE_STATUS = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

/** Retry-After in seconds or as an HTTP date, or retry-after-ms; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now = Date.now()): number | undefined {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.get('retry-after-ms') !== null && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (value.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export class GatewayClient {
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(readonly options: GatewayClientOptions) {
    this.fetchFn = options.fetch ?? fetch;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
  }

  async listModels(): Promise<ModelInfo[]> {
    const body = await this.call('GET', '/models', undefined);
    const data = (body as { data?: unknown }).data;
    if (!Array.isArray(data)) throw new GatewayCallError(`${this.options.baseUrl}/models did not answer an OpenAI model list`, 200, false);
    return data as ModelInfo[];
  }

  /** One chat completion (not streamed), first choice. `deadline` (epoch ms): no retry starts after it. */
  async chat(request: Record<string, unknown>, deadline?: number): Promise<ChatAnswer> {
    const body = (await this.call('POST', '/chat/completions', { ...request, stream: false }, deadline)) as {
      choices?: { message?: { content?: unknown; reasoning_content?: unknown; reasoning?: unknown }; finish_reason?: string | null }[];
      usage?: Record<string, unknown>;
      model?: string;
    };
    const choice = body.choices?.[0];
    if (!choice?.message) throw new GatewayCallError('the answer has no choices[0].message', 200, false);
    const content = typeof choice.message.content === 'string' ? choice.message.content : '';
    const reasoning = choice.message.reasoning_content ?? choice.message.reasoning;
    return {
      content,
      ...(typeof reasoning === 'string' && reasoning !== '' && { reasoning_content: reasoning }),
      finish_reason: choice.finish_reason ?? null,
      ...(body.usage && { usage: body.usage }),
      ...(body.model && { model: body.model }),
    };
  }

  private async call(method: string, path: string, body: unknown, deadline?: number): Promise<unknown> {
    const maxAttempts = this.options.maxAttempts ?? 6;
    const baseDelay = this.options.baseDelayMs ?? 1000;
    const maxDelay = this.options.maxDelayMs ?? 60000;
    for (let attempt = 1; ; attempt++) {
      let failure: GatewayCallError;
      let wait: number | undefined;
      try {
        const response = await this.fetchFn(`${this.options.baseUrl.replace(/\/$/, '')}${path}`, {
          method,
          headers: { 'content-type': 'application/json', ...(this.options.apiKey && { authorization: `Bearer ${this.options.apiKey}` }) },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 300000),
        });
        const text = await response.text();
        if (response.ok) {
          try {
            return JSON.parse(text);
          } catch {
            throw new GatewayCallError(`${method} ${path} answered ${response.status} with a body that is not JSON`, response.status, false);
          }
        }
        failure = new GatewayCallError(`${method} ${path} answered ${response.status}: ${errorMessage(text)}`, response.status, RETRYABLE_STATUS.has(response.status));
        wait = retryAfterMs(response.headers);
      } catch (e) {
        if (e instanceof GatewayCallError) throw e;
        // Connection refused or reset, DNS, timeout: the request may not have been served; asking again is safe for a read-only chat call.
        failure = new GatewayCallError(`${method} ${path} failed: ${(e as Error).message}`, undefined, true);
      }
      if (!failure.retryable || attempt >= maxAttempts) throw failure;
      const delay = Math.min(maxDelay, wait ?? Math.random() * baseDelay * 2 ** (attempt - 1));
      if (deadline !== undefined && Date.now() + delay >= deadline) throw new GatewayCallError(failure.message, failure.status, true, true);
      await this.sleep(delay);
    }
  }
}

/** The OpenAI error body's message, or the start of whatever came back: enough to act on, never a whole page. */
function errorMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { error?: { message?: unknown } }).error?.message;
    if (typeof message === 'string') return message.slice(0, 300);
  } catch {
    // not JSON: shown as text below
  }
  return text.slice(0, 200);
}
