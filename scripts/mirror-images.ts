import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { ecrRegistryHost, ChinaRegion } from '../lib/china/china';
import { names } from '../lib/config/names';
import { KitConfigSchema } from '../lib/config/schema';
import { OperatorError } from '../runtime/operator/operator-error';
import { RegistryClient, mirrorImage, parseImageReference, registryBaseUrl } from '../runtime/operator/mirror-images';
import { transferClientSettings } from '../runtime/operator/transfer';
import { configFromArgs, flagValue, profileClientConfig, runCli } from './cli-config';

// The image names come from the schema, so the help cannot fall behind a new image.
const IMAGE_NAMES = Object.keys(KitConfigSchema.parse({}).images);

const USAGE = `Usage: npm run mirror-images -- [--only ${[...IMAGE_NAMES, 'agents'].join('|')}] [--china-profile NAME] [--registry-endpoint HOST=URL ...] [--config FILE] [-c key=value ...]

Copies each image pinned in config (images.<name>) that the model store has a repository for
(modelStore.repositories) from its source registry into the kit's private ECR repositories in China
(<account>.dkr.ecr.<region>.amazonaws.com.cn/<prefix>/<name>), the platform each names
(images.<name>.platform, linux/amd64 by default; with stacks.agents also agents.baseImage,
linux/arm64, into <prefix>/node), and verifies the pushed digest. Run it from a machine that reaches the source
registry and AWS China. Then pin the printed digests in config (images.<name>.digest).
Layers move in parts (ECR's layer-part API, the size ECR asks for: 5-10 MiB) with up to 8 attempts
per part (backoff with jitter); a dropped download resumes with a Range request. Progress goes to
stderr. Interrupted for good? Run it again: layers ECR already has are skipped.
  --only NAME          just this image (agents: the agents' arm64 Node.js base)
  --registry-endpoint  reach a source registry at another URL, e.g. docker.io=https://mirror.example.com`;

async function main(args: string[]) {
  if (args.includes('--help') || args.includes('-h')) return console.log(USAGE);
  const config = configFromArgs(args);
  const overrides = new Map<string, string>();
  args.forEach((a, i) => {
    if (a === '--registry-endpoint') {
      const [host, ...url] = (args[i + 1] ?? '').split('=');
      overrides.set(host, url.join('='));
    }
  });
  const client = await profileClientConfig(flagValue(args, '--china-profile') ?? 'china', config.china.region);
  const auth = (await new ECRClient(client).send(new GetAuthorizationTokenCommand({}))).authorizationData?.[0];
  if (!auth?.authorizationToken) throw new OperatorError('ECR returned no authorization token for the China account');
  // ECR answers on the region's .amazonaws.com.cn registry host; a test endpoint answers on its own.
  const ecrUrl = client.endpoint ?? `https://${ecrRegistryHost(config.china.account, config.china.region as ChinaRegion)}`;
  const destination = new RegistryClient(ecrUrl, auth.authorizationToken);
  const destinationEcr = new ECRClient({ ...client, ...transferClientSettings() });

  const only = flagValue(args, '--only');
  // Each image under the config path it is pinned at; the agents' arm64 Node.js base goes to the node repository under its own tag.
  const wanted = [
    ...Object.entries(config.images).map(([name, image]) => ({ name, path: `images.${name}`, repository: name, image })),
    ...(config.stacks.agents ? [{ name: 'agents', path: 'agents.baseImage', repository: 'node', image: config.agents.baseImage }] : []),
  ];
  const results = [];
  // Only images the model store has a repository for (the device plugin's exists only with AL2023 GPU nodes).
  for (const { name, path, repository, image } of wanted) {
    if ((only && only !== name) || !config.modelStore.repositories.includes(repository)) continue;
    const ref = parseImageReference(image.source);
    const source = new RegistryClient(overrides.get(ref.registry) ?? registryBaseUrl(ref.registry));
    results.push({ path, ...(await mirrorImage({ source: image.source, sourceClient: source, destination, destinationEcr, destinationRepository: names(config).repository(repository), tag: image.tag, pinnedDigest: image.digest, platform: image.platform, progress: process.stderr })) });
  }
  console.log('\nPin these digests in your config so instances pull exactly what was verified:');
  for (const r of results) console.log(`  ${r.path}.digest = ${r.digest}`);
}

runCli('mirror-images', main);
