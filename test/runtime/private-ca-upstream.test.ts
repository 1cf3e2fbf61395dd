import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as https from 'https';
import { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { OpenAiUpstream, UpstreamConfig } from '../../runtime/gateway/openai-upstream';
import { OpenAiUpstreamFake } from '../fakes/openai-upstream-fake';

/** A private CA and a server certificate it signed for localhost, as the kit's ACM Private CA issues them for internal load balancers. */
function privateCa(): { caPem: string; key: string; cert: string } {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
  } catch {
    throw new Error('openssl is not installed: apt-get install openssl');
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-private-ca-'));
  const f = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('ca.key'));
  openssl('req', '-x509', '-new', '-key', f('ca.key'), '-subj', '/CN=cnllm internal CA', '-days', '2', '-out', f('ca.pem'));
  openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('server.key'));
  openssl('req', '-new', '-key', f('server.key'), '-subj', '/CN=localhost', '-out', f('server.csr'));
  fs.writeFileSync(f('ext.cnf'), 'subjectAltName=DNS:localhost\n');
  openssl('x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', f('ext.cnf'), '-out', f('server.pem'));
  return { caPem: fs.readFileSync(f('ca.pem'), 'utf8'), key: fs.readFileSync(f('server.key'), 'utf8'), cert: fs.readFileSync(f('server.pem'), 'utf8') };
}

describe('a vLLM upstream behind HTTPS with a certificate from a private CA', () => {
  const { caPem, key, cert } = privateCa();
  const fake = new OpenAiUpstreamFake('vllm', '');
  let server: https.Server;
  let baseUrl = '';

  beforeAll(async () => {
    // The fake's protocol behaviour, served over TLS.
    server = https.createServer({ key, cert }, (req, res) => void (fake as unknown as { serve: (q: typeof req, s: typeof res) => Promise<void> }).serve(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `https://localhost:${(server.address() as AddressInfo).port}/v1`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const upstream = (extra: Partial<UpstreamConfig> = {}) =>
    new OpenAiUpstream({ name: 'vllm-qwen', kind: 'vllm', baseUrl, crossBorder: false, timeoutMs: 10000, maxAttempts: 1, ...extra });

  test('trusting the CA: a reply, and a stream whose chunks arrive as SSE', async () => {
    const reply = await upstream({ caCertificates: [caPem] }).chatCompletions({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }] });
    expect(reply.status).toBe(200);
    expect(((await reply.json()) as any).choices[0].message.content).toBe('vllm: hi');

    const stream = await upstream({ caCertificates: [caPem] }).chatCompletions({ model: 'qwen', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    expect(stream.headers.get('content-type')).toBe('text/event-stream');
    const text = await stream.text();
    expect(text.match(/^data: /gm)).toHaveLength(5);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  test('without the CA the certificate is refused: a 502 the gateway may retry, naming the upstream', async () => {
    const failure = await upstream().chatCompletions({ model: 'qwen', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(failure).toEqual(expect.objectContaining({ status: 502, code: 'upstream_connection', retryable: true }));
    expect((failure as Error).message).toContain('vllm upstream "vllm-qwen"');
  });

  test('trusting the CA does not make a certificate for another name acceptable', async () => {
    const wrongName = baseUrl.replace('localhost', '127.0.0.1');
    const failure = await upstream({ baseUrl: wrongName, caCertificates: [caPem] }).chatCompletions({ model: 'qwen', messages: [] }).catch((e: unknown) => e);
    expect(failure).toEqual(expect.objectContaining({ status: 502, code: 'upstream_connection' }));
  });
});
