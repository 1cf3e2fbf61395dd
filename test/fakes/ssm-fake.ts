import * as http from 'http';
import { LocalIamCaller, verifySigV4 } from '../../runtime/local/sigv4-verifier';
import { LoopbackServer } from './loopback-server';

/**
 * A loopback stand-in for Parameter Store speaking its AWS JSON 1.1 protocol (X-Amz-Target
 * `AmazonSSM.<Operation>`): GetParametersByPath with Recursive and NextToken pagination (at most
 * MaxResults, 10, per page, as the service). Requests must carry a valid SigV4 signature for `ssm`
 * in `region` by one of `callers`.
 */
export class SsmFake extends LoopbackServer {
  /** Parameter name -> value (String parameters). */
  readonly parameters = new Map<string, string>();
  readonly calls: { operation: string; input: Record<string, unknown>; credentialScope?: string }[] = [];
  /** While set, every call fails this way (an SSM or VPC endpoint outage). */
  outage?: 'error' | 'reset';

  constructor(
    readonly callers: readonly LocalIamCaller[],
    readonly region = 'cn-northwest-1',
  ) {
    super();
  }

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const json = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    };
    const operation = String(req.headers['x-amz-target'] ?? '').replace(/^AmazonSSM\./, '');
    const body = Buffer.concat(chunks).toString('utf8');
    const input = JSON.parse(body || '{}') as Record<string, unknown>;
    const credentialScope = /Credential=[^/]+\/\d{8}\/([^,]+),/.exec(req.headers.authorization ?? '')?.[1];
    this.calls.push({ operation, input, credentialScope });
    if (this.outage === 'reset') return void req.socket.destroy();
    if (this.outage === 'error') return json(500, { __type: 'InternalServerError', message: 'stand-in outage' });
    const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : (v ?? '')]));
    const verdict = await verifySigV4({ method: req.method ?? 'POST', path: (req.url ?? '/').split('?')[0], query: {}, headers, body }, this.callers, this.region, 'ssm');
    if (!verdict.ok) return json(400, { __type: 'InvalidSignatureException', message: verdict.message });
    if (req.headers['content-type'] !== 'application/x-amz-json-1.1') return json(400, { __type: 'SerializationException', message: 'content-type' });
    if (operation !== 'GetParametersByPath') return json(400, { __type: 'com.amazonaws.ssm#InvalidAction', message: `unsupported ${operation}` });

    const path = String(input.Path ?? '');
    if (!path.startsWith('/')) return json(400, { __type: 'ValidationException', message: 'Path must start with /' });
    const max = Number(input.MaxResults ?? 10);
    if (max > 10) return json(400, { __type: 'ValidationException', message: 'MaxResults must be at most 10' });
    const base = path.replace(/\/$/, '');
    const names = [...this.parameters.keys()]
      .filter((n) => n.startsWith(`${base}/`) && (input.Recursive === true || !n.slice(base.length + 1).includes('/')))
      .sort();
    const start = input.NextToken === undefined ? 0 : Number(input.NextToken);
    const page = names.slice(start, start + max);
    json(200, {
      Parameters: page.map((n) => ({ Name: n, Type: 'String', Value: this.parameters.get(n), Version: 1, ARN: `arn:aws-cn:ssm:${this.region}:111122223333:parameter${n}`, DataType: 'text' })),
      ...(start + max < names.length && { NextToken: String(start + max) }),
    });
  }
}
