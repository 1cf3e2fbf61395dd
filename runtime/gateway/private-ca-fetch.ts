import * as https from 'https';
import { Readable } from 'stream';
import * as tls from 'tls';

/**
 * `fetch` for upstreams whose certificates come from a private CA (the kit's ACM Private CA behind
 * the internal load balancers). Node's own fetch trusts only the built-in roots plus
 * NODE_EXTRA_CA_CERTS, a file read once at start-up: a CA created at deploy time cannot be added
 * that way in Lambda. Public roots stay trusted; the response body streams as it arrives.
 */
export function privateCaFetch(caCertificates: readonly string[]): typeof fetch {
  const agent = new https.Agent({ keepAlive: true, ca: [...tls.rootCertificates, ...caCertificates] });
  return (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(input instanceof Request ? input.url : input);
    if (url.protocol !== 'https:') return fetch(input, init);
    return new Promise<Response>((resolve, reject) => {
      const request = https.request(
        url,
        { method: init.method ?? 'GET', headers: Object.fromEntries(new Headers(init.headers)), agent, signal: init.signal ?? undefined },
        (response) => {
          const headers = new Headers();
          for (const [name, value] of Object.entries(response.headers)) {
            for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one);
          }
          const status = response.statusCode ?? 502;
          const bodyless = status === 204 || status === 304 || init.method === 'HEAD';
          resolve(new Response(bodyless ? null : (Readable.toWeb(response) as ReadableStream<Uint8Array>), { status, statusText: response.statusMessage, headers }));
        },
      );
      request.on('error', reject);
      request.end(typeof init.body === 'string' || init.body instanceof Uint8Array ? init.body : undefined);
    });
  };
}
