import { GatewayError } from '../gateway/errors';
import { ExpiringCache } from './expiring-cache';

/** Tokens are `cnllm-sts-v1.` + base64url(presigned STS GetCallerIdentity URL). */
export const STS_TOKEN_PREFIX = 'cnllm-sts-v1.';
/** Signed into the presigned request so a token made for this gateway cannot be replayed elsewhere, and vice versa. */
export const AUDIENCE_HEADER = 'x-cnllm-gateway';
const MAX_EXPIRES_SECONDS = 900;
const MAX_CACHED_TOKENS = 10_000;
/** SigV4's own tolerance: a token signed further ahead than this would stay cached long past its real lifetime. */
const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export interface StsAuthOptions {
  /** STS origins a token may point at, e.g. `https://sts.cn-northwest-1.amazonaws.com.cn`. Anything else is refused (no SSRF). */
  readonly allowedEndpoints: readonly string[];
  readonly audience: string;
  /** Accounts whose principals may call; empty: any account STS vouches for. */
  readonly allowedAccounts: readonly string[];
  /** Longest wait for STS's answer, then 503 auth_unavailable. @default 5000 */
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

const stsUnavailable = (why: string) =>
  new GatewayError(503, 'api_error', `The STS token could not be checked: ${why}. Retry shortly.`, 'auth_unavailable', null, true);

/**
 * Authenticates callers that hold China IAM credentials without any shared secret: the caller
 * presigns STS GetCallerIdentity (with the gateway's audience header signed in) and sends it as
 * its bearer token; the gateway asks STS, which answers with the caller's ARN only if the signature holds.
 * A token that STS refuses is a 401 (undefined); STS slow, unreachable or failing is a 503 (thrown).
 */
export class StsPresignedAuthenticator {
  /** Checks in flight or confirmed, so concurrent requests with one token make one STS call. */
  private readonly checks: ExpiringCache<Promise<string | undefined>>;

  constructor(private readonly options: StsAuthOptions) {
    this.checks = new ExpiringCache(MAX_CACHED_TOKENS, () => this.now());
  }

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  async authenticate(bearer: string): Promise<{ caller: string } | undefined> {
    if (!bearer.startsWith(STS_TOKEN_PREFIX)) return undefined;
    let check = this.checks.get(bearer);
    if (!check) {
      const presigned = this.parse(bearer);
      if (!presigned) return undefined;
      const pending = this.askSts(presigned.url);
      check = pending;
      this.checks.set(bearer, pending, presigned.until);
      // Only a confirmed identity is kept: a refusal or an STS failure is asked again next time.
      pending.then(
        (arn) => arn === undefined && this.checks.delete(bearer),
        () => this.checks.delete(bearer),
      );
    }
    const arn = await check;
    return arn === undefined ? undefined : { caller: arn };
  }

  /** The presigned URL if it is one this gateway may send to STS, with the time it stops being valid. */
  private parse(bearer: string): { url: URL; until: number } | undefined {
    let url: URL;
    try {
      url = new URL(Buffer.from(bearer.slice(STS_TOKEN_PREFIX.length), 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    const q = url.searchParams;
    const signed = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
    const expires = Number(q.get('X-Amz-Expires'));
    const date = q.get('X-Amz-Date') ?? '';
    if (
      !this.options.allowedEndpoints.includes(url.origin) ||
      // URL.origin leaves out user:password@, which fetch refuses to send anyway.
      url.username !== '' ||
      url.password !== '' ||
      url.pathname !== '/' ||
      q.get('Action') !== 'GetCallerIdentity' ||
      q.get('Version') !== '2011-06-15' ||
      !signed.includes(AUDIENCE_HEADER) ||
      !(expires > 0 && expires <= MAX_EXPIRES_SECONDS) ||
      !/^\d{8}T\d{6}Z$/.test(date)
    ) {
      return undefined;
    }
    const signedAt = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
    const now = this.now();
    const until = signedAt + expires * 1000;
    if (Number.isNaN(signedAt) || signedAt > now + MAX_CLOCK_SKEW_MS || until <= now) return undefined;
    return { url, until };
  }

  /** The caller's ARN as STS states it; undefined when STS refuses the token or the account is not allowed. */
  private async askSts(url: URL): Promise<string | undefined> {
    const timeoutMs = this.options.timeoutMs ?? 5000;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    let status: number;
    let body: string;
    try {
      // A redirect is not STS answering: it arrives as a 3xx and counts as a refusal.
      const res = await (this.options.fetch ?? fetch)(url, { headers: { [AUDIENCE_HEADER]: this.options.audience }, redirect: 'manual', signal: deadline.signal });
      status = res.status;
      body = await res.text();
    } catch {
      // Neither the error's text nor the URL leaves here: the URL is a replayable credential.
      throw stsUnavailable(deadline.signal.aborted ? `STS did not answer within ${timeoutMs} ms` : 'STS could not be reached');
    } finally {
      clearTimeout(timer);
    }
    if (status >= 500 || /<Code>Throttling<\/Code>/.test(body)) throw stsUnavailable(`STS answered ${status}`);
    if (status !== 200) return undefined;
    const arn = /<Arn>([^<]+)<\/Arn>/.exec(body)?.[1];
    const account = /<Account>(\d{12})<\/Account>/.exec(body)?.[1];
    if (!arn || !account) return undefined;
    if (this.options.allowedAccounts.length > 0 && !this.options.allowedAccounts.includes(account)) return undefined;
    return arn;
  }
}
