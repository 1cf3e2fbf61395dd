import { ExpiringCache } from './expiring-cache';

/** Tokens are `cnllm-sts-v1.` + base64url(presigned STS GetCallerIdentity URL). */
export const STS_TOKEN_PREFIX = 'cnllm-sts-v1.';
/** Signed into the presigned request so a token made for this gateway cannot be replayed elsewhere, and vice versa. */
export const AUDIENCE_HEADER = 'x-cnllm-gateway';
const MAX_EXPIRES_SECONDS = 900;
const MAX_CACHED_TOKENS = 10_000;

export interface StsAuthOptions {
  /** STS origins a token may point at, e.g. `https://sts.cn-northwest-1.amazonaws.com.cn`. Anything else is refused (no SSRF). */
  readonly allowedEndpoints: readonly string[];
  readonly audience: string;
  /** Accounts whose principals may call; empty: any account STS vouches for. */
  readonly allowedAccounts: readonly string[];
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

/**
 * Authenticates callers that hold China IAM credentials without any shared secret: the caller
 * presigns STS GetCallerIdentity (with the gateway's audience header signed in) and sends it as
 * its bearer token; the gateway asks STS, which answers with the caller's ARN only if the signature holds.
 */
export class StsPresignedAuthenticator {
  private readonly verified: ExpiringCache<string>;

  constructor(private readonly options: StsAuthOptions) {
    this.verified = new ExpiringCache(MAX_CACHED_TOKENS, () => this.options.now?.() ?? Date.now());
  }

  async authenticate(bearer: string): Promise<{ caller: string } | undefined> {
    if (!bearer.startsWith(STS_TOKEN_PREFIX)) return undefined;
    const now = this.options.now?.() ?? Date.now();
    const cached = this.verified.get(bearer);
    if (cached) return { caller: cached };

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
    const until = signedAt + expires * 1000;
    if (until <= now) return undefined;

    const res = await (this.options.fetch ?? fetch)(url, { headers: { [AUDIENCE_HEADER]: this.options.audience }, redirect: 'error' });
    if (!res.ok) return undefined;
    const body = await res.text();
    const arn = /<Arn>([^<]+)<\/Arn>/.exec(body)?.[1];
    const account = /<Account>(\d{12})<\/Account>/.exec(body)?.[1];
    if (!arn || !account) return undefined;
    if (this.options.allowedAccounts.length > 0 && !this.options.allowedAccounts.includes(account)) return undefined;
    this.verified.set(bearer, arn, until);
    return { caller: arn };
  }
}
