import * as http from 'http';
import { LoopbackServer } from './loopback-server';

/**
 * Loopback S3 (path-style REST) and CodeBuild (JSON 1.1) for the staging command. A started build
 * "runs" for a few status polls and then writes the manifest, as stage-model.sh would, or fails.
 */
export class StagingFake extends LoopbackServer {
  readonly objects = new Map<string, Buffer>();
  readonly builds: { id: string; env: Record<string, string>; polls: number }[] = [];
  readonly calls: string[] = [];
  /** What the next build ends as. */
  nextBuildOutcome: 'SUCCEEDED' | 'FAILED' = 'SUCCEEDED';

  protected async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const target = req.headers['x-amz-target'] as string | undefined;
    if (target) return this.codebuild(res, target.split('.')[1], JSON.parse(body.toString('utf8') || '{}'));
    const key = decodeURIComponent((req.url ?? '/').split('?')[0].slice(1));
    this.calls.push(`${req.method} ${key}`);
    if (req.method === 'HEAD' || req.method === 'GET') {
      const object = this.objects.get(key);
      res.writeHead(object ? 200 : 404, object ? { 'content-length': object.length, etag: '"e"' } : {});
      res.end(req.method === 'GET' && object ? object : undefined);
      return;
    }
    if (req.method === 'PUT') {
      this.objects.set(key, body);
      res.writeHead(200, { etag: '"e"' });
      res.end();
      return;
    }
    res.writeHead(405);
    res.end();
  }

  private codebuild(res: http.ServerResponse, operation: string, input: any) {
    this.calls.push(`CodeBuild.${operation}`);
    const json = (body: object) => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(body));
    };
    if (operation === 'StartBuild') {
      const id = `${input.projectName}:${this.builds.length + 1}`;
      const env = Object.fromEntries((input.environmentVariablesOverride ?? []).map((v: any) => [v.name, v.value]));
      this.builds.push({ id, env, polls: 0 });
      return json({ build: { id, buildStatus: 'IN_PROGRESS', currentPhase: 'SUBMITTED' } });
    }
    if (operation === 'BatchGetBuilds') {
      const build = this.builds.find((b) => b.id === input.ids[0])!;
      build.polls++;
      if (build.polls < 3) return json({ builds: [{ id: build.id, buildStatus: 'IN_PROGRESS', currentPhase: build.polls === 1 ? 'PROVISIONING' : 'BUILD' }] });
      if (this.nextBuildOutcome === 'SUCCEEDED') this.objects.set(`weights/${build.env.PREFIX}manifest.json`, Buffer.from('{}'));
      return json({ builds: [{ id: build.id, buildStatus: this.nextBuildOutcome, currentPhase: 'COMPLETED' }] });
    }
    res.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
    res.end(JSON.stringify({ __type: 'InvalidInputException', message: operation }));
  }
}
