import { execFile } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { ECRClient } from '@aws-sdk/client-ecr';
import { RegistryClient, mirrorImage, parseImageReference } from '../../runtime/operator/mirror-images';
import { OperatorError } from '../../runtime/operator/operator-error';
import { RegistryFake } from '../fakes/registry-fake';

let source: RegistryFake;
let ecr: RegistryFake;
beforeEach(async () => {
  source = await new RegistryFake('bearer').start();
  ecr = await new RegistryFake('ecr').start();
});
afterEach(async () => {
  await source.stop();
  await ecr.stop();
});

const ecrClient = () => new RegistryClient(ecr.url, Buffer.from('AWS:ecr-password').toString('base64'));
/** The registry API for manifests and the ECR API (one attempt per call, as the CLI sets it) for layers. */
const ecrDestination = () => ({
  destination: ecrClient(),
  destinationEcr: new ECRClient({ region: 'cn-northwest-1', endpoint: ecr.url, credentials: { accessKeyId: 'AKIACHINA', secretAccessKey: 's' }, maxAttempts: 1 }),
});
const quiet = () => undefined;

describe('image references', () => {
  test.each([
    ['vllm/vllm-openai:v0.9.2', { registry: 'docker.io', repository: 'vllm/vllm-openai', reference: 'v0.9.2' }],
    ['docker.io/library/python:3.12-slim', { registry: 'docker.io', repository: 'library/python', reference: '3.12-slim' }],
    ['python', { registry: 'docker.io', repository: 'library/python', reference: 'latest' }],
    ['public.ecr.aws/aws-cli/aws-cli:2.27.50', { registry: 'public.ecr.aws', repository: 'aws-cli/aws-cli', reference: '2.27.50' }],
    [`127.0.0.1:5000/x/y@sha256:${'a'.repeat(64)}`, { registry: '127.0.0.1:5000', repository: 'x/y', reference: `sha256:${'a'.repeat(64)}` }],
  ])('%s', (image, expected) => expect(parseImageReference(image)).toEqual(expected));
});

describe('mirror-images', () => {
  test('copies the linux/amd64 image of a multi-arch tag with the anonymous token flow, and verifies the digest', async () => {
    const amd64 = source.addImage('vllm/vllm-openai', 'v0.9.2', ['cuda', 'python', 'vllm'], true);
    const result = await mirrorImage({ source: 'docker.io/vllm/vllm-openai:v0.9.2', sourceClient: new RegistryClient(source.url), ...ecrDestination(), destinationRepository: 'cnllm/vllm', tag: 'v0.9.2', log: quiet });
    expect(result).toEqual(expect.objectContaining({ digest: amd64, copiedBlobs: 4, skippedBlobs: 0, alreadyMirrored: false, destination: 'cnllm/vllm:v0.9.2' }));
    expect(ecr.manifests.get('cnllm/vllm:v0.9.2')!.mediaType).toBe('application/vnd.oci.image.manifest.v1+json');
    // Only amd64 layers crossed over.
    const copied = [...ecr.blobs.values()].map((b) => b.toString());
    expect(copied).toEqual(['{"architecture":"amd64","os":"linux"}', 'amd64:cuda', 'amd64:python', 'amd64:vllm']);
    expect(copied.join()).not.toContain('arm64');
  });

  test('platform linux/arm64 (agents.baseImage, AgentCore Runtime): the arm64 image of the multi-arch index crosses over, nothing of amd64; a single-arch amd64 source is refused', async () => {
    source.addImage('library/node', '22-slim', ['debian', 'node'], true);
    const index = JSON.parse(source.manifests.get('library/node:22-slim')!.bytes.toString()) as { manifests: { digest: string; platform: { architecture: string } }[] };
    const arm64 = index.manifests.find((m) => m.platform.architecture === 'arm64')!.digest;
    const result = await mirrorImage({ source: 'docker.io/library/node:22-slim', sourceClient: new RegistryClient(source.url), ...ecrDestination(), destinationRepository: 'cnllm/node', tag: '22-slim-arm64', platform: 'linux/arm64', log: quiet });
    expect(result).toEqual(expect.objectContaining({ digest: arm64, copiedBlobs: 3, destination: 'cnllm/node:22-slim-arm64' }));
    const copied = [...ecr.blobs.values()].map((b) => b.toString());
    expect(copied).toEqual(['{"architecture":"arm64","os":"linux"}', 'arm64:debian', 'arm64:node']);

    source.addImage('library/python', '3.12-slim', ['base']);
    await expect(mirrorImage({ source: 'python:3.12-slim', sourceClient: new RegistryClient(source.url), ...ecrDestination(), destinationRepository: 'cnllm/tools', tag: 'x', platform: 'linux/arm64', log: quiet })).rejects.toThrow('python:3.12-slim is a linux/amd64 image, not linux/arm64');
    expect(ecr.manifests.has('cnllm/tools:x')).toBe(false);
  });

  test('is idempotent, copies only missing blobs, and refuses to move an immutable tag', async () => {
    const digest = source.addImage('library/python', '3.12-slim', ['base', 'python']);
    const run = (tag: string) => mirrorImage({ source: 'python:3.12-slim', sourceClient: new RegistryClient(source.url), ...ecrDestination(), destinationRepository: 'cnllm/tools', tag, log: quiet });
    await run('3.12-slim');
    expect(await run('3.12-slim')).toEqual(expect.objectContaining({ alreadyMirrored: true, digest }));
    const uploadsBefore = ecr.blobUploads.length;
    expect(await run('3.12-slim-copy')).toEqual(expect.objectContaining({ copiedBlobs: 0, skippedBlobs: 3 }));
    expect(ecr.blobUploads.length).toBe(uploadsBefore);

    source.addImage('library/python', '3.12-slim', ['base', 'python-patched']);
    await expect(run('3.12-slim')).rejects.toThrow(/cnllm\/tools:3.12-slim already holds sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64}; tags are immutable/);
  });

  test('a pinned digest that no longer matches the source tag stops the copy', async () => {
    source.addImage('vllm/vllm-openai', 'v0.9.2', ['l1']);
    await expect(
      mirrorImage({ source: 'vllm/vllm-openai:v0.9.2', sourceClient: new RegistryClient(source.url), ...ecrDestination(), destinationRepository: 'cnllm/vllm', tag: 'v0.9.2', pinnedDigest: `sha256:${'0'.repeat(64)}`, log: quiet }),
    ).rejects.toThrow(OperatorError);
    expect(ecr.manifests.size).toBe(0);
  });

  test('a source image that does not exist is a clear error', async () => {
    await expect(mirrorImage({ source: 'vllm/missing:1', sourceClient: new RegistryClient(source.url), ...ecrDestination(), destinationRepository: 'cnllm/vllm', tag: '1', log: quiet })).rejects.toThrow('vllm/missing:1 was not found in its registry');
  });
});

describe('npm run mirror-images (the CLI)', () => {
  test('logs in to ECR with the China profile, mirrors every pinned image and prints the digests to pin', async () => {
    const vllmDigest = source.addImage('vllm/vllm-openai', 'v0.9.2', ['a'], true);
    const toolsDigest = source.addImage('library/python', '3.12-slim', ['b']);
    const nodeDigest = source.addImage('library/node', '22-slim', ['c'], true);
    const awscliDigest = source.addImage('aws-cli/aws-cli', '2.27.50', ['d']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-profiles-'));
    fs.writeFileSync(path.join(dir, 'config'), `[profile china]\nregion = cn-northwest-1\nendpoint_url = ${ecr.url}\n`);
    fs.writeFileSync(path.join(dir, 'credentials'), '[china]\naws_access_key_id = AKIACHINA\naws_secret_access_key = s\n');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'scripts/mirror-images.ts', '--registry-endpoint', `docker.io=${source.url}`, '--registry-endpoint', `public.ecr.aws=${source.url}`],
      { cwd: path.join(__dirname, '..', '..'), env: { PATH: process.env.PATH, HOME: dir, AWS_CONFIG_FILE: path.join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials') }, timeout: 60000 },
    );
    expect(stdout).toContain(`images.vllm.digest = ${vllmDigest}`);
    expect(stdout).toContain(`images.tools.digest = ${toolsDigest}`);
    expect(stdout).toContain(`images.node.digest = ${nodeDigest}`);
    expect(stdout).toContain(`images.awscli.digest = ${awscliDigest}`);
    // No repository for the device plugin by default (Bottlerocket nodes need none): it is not mirrored.
    expect(stdout).not.toContain('images.deviceplugin');
    expect([...ecr.manifests.keys()].filter((k) => k.includes(':') && !k.includes('@'))).toEqual(['cnllm/vllm:v0.9.2', 'cnllm/tools:3.12-slim', 'cnllm/node:22-slim', 'cnllm/awscli:2.27.50']);
  });

  test('with stacks.agents: the agents\' linux/arm64 Node.js base goes to the node repository under agents.baseImage.tag, pinned at agents.baseImage.digest', async () => {
    source.addImage('library/node', '22-slim', ['c'], true);
    const index = JSON.parse(source.manifests.get('library/node:22-slim')!.bytes.toString()) as { manifests: { digest: string; platform: { architecture: string } }[] };
    const arm64 = index.manifests.find((m) => m.platform.architecture === 'arm64')!.digest;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cnllm-profiles-'));
    fs.writeFileSync(path.join(dir, 'config'), `[profile china]\nregion = cn-northwest-1\nendpoint_url = ${ecr.url}\n`);
    fs.writeFileSync(path.join(dir, 'credentials'), '[china]\naws_access_key_id = AKIACHINA\naws_secret_access_key = s\n');
    const { stdout } = await promisify(execFile)(
      process.execPath,
      [require.resolve('ts-node/dist/bin.js'), '--transpile-only', 'scripts/mirror-images.ts', '--only', 'agents', '-c', 'stacks.agents=true', '--registry-endpoint', `docker.io=${source.url}`],
      { cwd: path.join(__dirname, '..', '..'), env: { PATH: process.env.PATH, HOME: dir, AWS_CONFIG_FILE: path.join(dir, 'config'), AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'credentials') }, timeout: 60000 },
    );
    expect(stdout).toContain(`agents.baseImage.digest = ${arm64}`);
    expect([...ecr.manifests.keys()].filter((k) => k.includes(':') && !k.includes('@'))).toEqual(['cnllm/node:22-slim-arm64']);
    expect([...ecr.blobs.values()].map((b) => b.toString())).toEqual(['{"architecture":"arm64","os":"linux"}', 'arm64:c']);
  });
});
