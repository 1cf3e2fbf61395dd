import { createHash } from 'crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { SignatureV4 } from '@smithy/signature-v4';
import { ownEntry } from '../gateway/json';

/** A principal the local runner accepts, as API Gateway's IAM authorization would. */
export interface LocalIamCaller {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly arn: string;
}

export interface SignedRequest {
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly headers: Record<string, string>;
  /** The body as received: the payload hash is computed from it, never taken from the client. */
  readonly body: string | Uint8Array;
}

/** API Gateway's x-amzn-ErrorType for each way a signature fails. */
export type SignatureErrorType = 'MissingAuthenticationTokenException' | 'UnrecognizedClientException' | 'InvalidSignatureException' | 'IncompleteSignatureException';
export type Verdict = { ok: true; arn: string } | { ok: false; message: string; errorType: SignatureErrorType };

const MISMATCH: Verdict = {
  ok: false,
  message: 'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
  errorType: 'InvalidSignatureException',
};

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/;

/**
 * Checks a SigV4 signature the way API Gateway's IAM authorization does for execute-api: same
 * canonical request over the headers the client signed, same key derivation, same region and service.
 */
export async function verifySigV4(req: SignedRequest, callers: readonly LocalIamCaller[], region: string, service = 'execute-api'): Promise<Verdict> {
  const auth = AUTHORIZATION.exec(req.headers.authorization ?? '');
  if (!auth) return { ok: false, message: 'Missing Authentication Token', errorType: 'MissingAuthenticationTokenException' };
  const [, keyId, , scopeRegion, scopeService, signedHeaderList, signature] = auth;
  const caller = callers.find((c) => c.accessKeyId === keyId);
  if (!caller) return { ok: false, message: 'The security token included in the request is invalid.', errorType: 'UnrecognizedClientException' };
  if (scopeRegion !== region || scopeService !== service) {
    return { ok: false, message: `Credential should be scoped to a valid region and service: expected ${region}/${service}, got ${scopeRegion}/${scopeService}.`, errorType: 'IncompleteSignatureException' };
  }
  const amzDate = req.headers['x-amz-date'] ?? '';
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || Number.isNaN(signingDate.getTime())) {
    return { ok: false, message: `Date must be in ISO-8601 'basic format'. Got '${amzDate}'.`, errorType: 'IncompleteSignatureException' };
  }
  if (Math.abs(Date.now() - signingDate.getTime()) > 5 * 60 * 1000) return { ok: false, message: 'Signature expired: the request time is more than 5 minutes off.', errorType: 'InvalidSignatureException' };
  // API Gateway hashes the body it received; a client-declared hash (or UNSIGNED-PAYLOAD) that differs cannot verify.
  const claimedPayloadHash = req.headers['x-amz-content-sha256'];
  if (claimedPayloadHash !== undefined && claimedPayloadHash !== createHash('sha256').update(req.body).digest('hex')) return MISMATCH;

  const signedHeaders = signedHeaderList.split(';');
  // The client names the headers: "constructor" is not a header the request carries.
  const headers = Object.fromEntries(signedHeaders.map((h) => [h, ownEntry(req.headers, h) ?? '']));
  // applyChecksum off: re-sign exactly the headers the client signed (curl sends no x-amz-content-sha256).
  const signer = new SignatureV4({ credentials: { accessKeyId: caller.accessKeyId, secretAccessKey: caller.secretAccessKey }, region, service, sha256: Sha256, uriEscapePath: true, applyChecksum: false });
  const expected = await signer.sign(
    { method: req.method, protocol: 'https:', hostname: headers.host ?? '', path: req.path, query: req.query, headers, body: req.body },
    { signingDate, signableHeaders: new Set(signedHeaders) },
  );
  const expectedSignature = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1];
  return expectedSignature === signature ? { ok: true, arn: caller.arn } : MISMATCH;
}
