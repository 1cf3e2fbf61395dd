import { randomBytes, randomUUID } from 'crypto';
import * as http from 'http';
import { LoopbackServer } from './loopback-server';

interface Key {
  readonly id: string;
  readonly secret: string;
  readonly user: string;
  status: 'Active' | 'Inactive';
  readonly created: Date;
}

/**
 * A loopback stand-in for one AWS partition's STS, IAM and Secrets Manager, speaking their wire
 * protocols (query/XML for STS and IAM, JSON 1.1 for Secrets Manager) so the real SDK v3 clients
 * talk to it through an endpoint override. Callers are identified by the access key in SigV4.
 */
export class AwsPartitionFake extends LoopbackServer {
  readonly keys = new Map<string, Key>();
  readonly secrets = new Map<string, string>();
  readonly calls: string[] = [];
  /** Roles AssumeRole hands out: the users their trust policy names, the session credentials it returns. */
  readonly roles = new Map<string, { trustedUsers: string[]; credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string } }>();
  /** AssumeRole calls per role ARN. */
  readonly assumed: string[] = [];

  constructor(
    readonly partition: 'aws' | 'aws-cn',
    readonly account: string,
  ) {
    super();
  }

  /** An operator key the fake accepts (the profile's credential). */
  addKey(id: string, user: string): this {
    this.keys.set(id, { id, secret: 'operator-secret', user, status: 'Active', created: new Date() });
    return this;
  }

  /** A role only `trustedUsers` may assume (its trust policy), answering with these session credentials. */
  addRole(roleArn: string, trustedUsers: string[], credentials: { accessKeyId: string; secretAccessKey: string; sessionToken: string }): this {
    this.roles.set(roleArn, { trustedUsers, credentials });
    return this;
  }

  secretArn(name: string): string {
    return `arn:${this.partition}:secretsmanager:${this.partition === 'aws' ? 'us-east-1' : 'cn-northwest-1'}:${this.account}:secret:${name}-AbCdEf`;
  }

  activeKeysOf(user: string): string[] {
    return [...this.keys.values()].filter((k) => k.user === user && k.status === 'Active').map((k) => k.id);
  }


  protected async serve(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    // Signed in the Authorization header, or presigned in the query string (GET).
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const keyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? query.get('X-Amz-Credential')?.split('/')[0] ?? '';
    const caller = this.keys.get(keyId);
    const target = req.headers['x-amz-target'] as string | undefined;
    if (target) return this.secretsManager(res, target.split('.')[1], JSON.parse(body || '{}'), caller);
    const params = req.method === 'GET' ? query : new URLSearchParams(body);
    // Like STS, a presigned request is only valid with every header it signed.
    const unsignedHeader = (query.get('X-Amz-SignedHeaders') ?? '').split(';').find((h) => h && req.headers[h] === undefined);
    if (unsignedHeader) return this.queryError(res, 403, 'SignatureDoesNotMatch', `missing signed header ${unsignedHeader}`);
    const action = params.get('Action') ?? '';
    this.calls.push(action);
    if (!caller || caller.status !== 'Active') return this.queryError(res, 403, 'InvalidClientTokenId', 'The security token included in the request is invalid.');
    switch (action) {
      case 'GetCallerIdentity':
        return this.xml(res, action, `<Arn>arn:${this.partition}:iam::${this.account}:user/${caller.user}</Arn><UserId>AIDA${caller.user.toUpperCase()}</UserId><Account>${this.account}</Account>`, 'https://sts.amazonaws.com/doc/2011-06-15/');
      case 'AssumeRole': {
        const roleArn = params.get('RoleArn') ?? '';
        const sessionName = params.get('RoleSessionName') ?? '';
        const role = this.roles.get(roleArn);
        if (!role || !role.trustedUsers.includes(caller.user)) {
          return this.queryError(res, 403, 'AccessDenied', `User: arn:${this.partition}:iam::${this.account}:user/${caller.user} is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
        }
        this.assumed.push(roleArn);
        const seconds = Number(params.get('DurationSeconds') ?? 3600);
        const expiration = new Date(Date.now() + seconds * 1000).toISOString();
        const { accessKeyId, secretAccessKey, sessionToken } = role.credentials;
        const roleName = roleArn.split('/').pop();
        return this.xml(
          res,
          action,
          `<Credentials><AccessKeyId>${accessKeyId}</AccessKeyId><SecretAccessKey>${secretAccessKey}</SecretAccessKey><SessionToken>${sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
            `<AssumedRoleUser><Arn>arn:${this.partition}:sts::${this.account}:assumed-role/${roleName}/${sessionName}</Arn><AssumedRoleId>AROA${roleName?.toUpperCase()}:${sessionName}</AssumedRoleId></AssumedRoleUser>`,
          'https://sts.amazonaws.com/doc/2011-06-15/',
        );
      }
      case 'ListAccessKeys': {
        const user = params.get('UserName')!;
        const members = [...this.keys.values()]
          .filter((k) => k.user === user)
          .map((k) => `<member><UserName>${user}</UserName><AccessKeyId>${k.id}</AccessKeyId><Status>${k.status}</Status><CreateDate>${k.created.toISOString()}</CreateDate></member>`)
          .join('');
        return this.xml(res, action, `<AccessKeyMetadata>${members}</AccessKeyMetadata><IsTruncated>false</IsTruncated>`);
      }
      case 'CreateAccessKey': {
        const user = params.get('UserName')!;
        if ([...this.keys.values()].filter((k) => k.user === user).length >= 2) return this.queryError(res, 409, 'LimitExceeded', 'Cannot exceed quota for AccessKeysPerUser: 2');
        const key: Key = { id: `AKIA${randomBytes(8).toString('hex').toUpperCase()}`, secret: randomBytes(20).toString('base64'), user, status: 'Active', created: new Date() };
        this.keys.set(key.id, key);
        return this.xml(res, action, `<AccessKey><UserName>${user}</UserName><AccessKeyId>${key.id}</AccessKeyId><Status>Active</Status><SecretAccessKey>${key.secret}</SecretAccessKey><CreateDate>${key.created.toISOString()}</CreateDate></AccessKey>`);
      }
      case 'DeleteAccessKey': {
        const id = params.get('AccessKeyId')!;
        if (!this.keys.delete(id)) return this.queryError(res, 404, 'NoSuchEntity', `The Access Key with id ${id} cannot be found.`);
        return this.xml(res, action, '');
      }
      default:
        return this.queryError(res, 400, 'InvalidAction', `unsupported ${action}`);
    }
  }

  private secretsManager(res: http.ServerResponse, operation: string, input: { SecretId?: string; SecretString?: string }, caller: Key | undefined) {
    this.calls.push(operation);
    const json = (status: number, body: object) => {
      res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    };
    if (!caller) return json(400, { __type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
    const name = [...this.secrets.keys()].find((n) => n === input.SecretId || this.secretArn(n) === input.SecretId);
    if (!name) return json(400, { __type: 'ResourceNotFoundException', message: "Secrets Manager can't find the specified secret." });
    if (operation === 'GetSecretValue') return json(200, { ARN: this.secretArn(name), Name: name, VersionId: randomUUID(), SecretString: this.secrets.get(name), CreatedDate: Date.now() / 1000 });
    if (operation === 'PutSecretValue') {
      this.secrets.set(name, input.SecretString ?? '');
      return json(200, { ARN: this.secretArn(name), Name: name, VersionId: randomUUID() });
    }
    return json(400, { __type: 'InvalidRequestException', message: `unsupported ${operation}` });
  }

  private xml(res: http.ServerResponse, action: string, result: string, ns = 'https://iam.amazonaws.com/doc/2010-05-08/') {
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(`<${action}Response xmlns="${ns}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`);
  }

  private queryError(res: http.ServerResponse, status: number, code: string, message: string) {
    res.writeHead(status, { 'content-type': 'text/xml' });
    res.end(`<ErrorResponse><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`);
  }
}
