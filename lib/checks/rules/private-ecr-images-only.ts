import { CfnResource, Stack } from 'aws-cdk-lib';
import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { PRIVATE_ECR_IMAGE_PATTERN } from '../../china/china';
import { cfnText } from '../cfn-text';
import { ChinaRule, chinaTextEnv, propertyTexts, rendered } from '../china-rule';

/** CodeBuild's curated images are served by CodeBuild in the region, not pulled from a registry. */
const CODEBUILD_CURATED = /^aws\/codebuild\//;

/** Where each resource type keeps the image references it will pull. */
function imageReferences(node: CfnResource): string[] {
  const { Type, Properties: p } = rendered(node);
  const env = chinaTextEnv(node);
  const text = (v: unknown) => cfnText(v, env);
  const get = (o: unknown, ...keys: string[]) => keys.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], o);
  switch (Type) {
    case 'AWS::ECS::TaskDefinition':
      return ((p.ContainerDefinitions as unknown[]) ?? []).map((c) => text(get(c, 'Image')));
    case 'AWS::Lambda::Function':
      return get(p, 'Code', 'ImageUri') ? [text(get(p, 'Code', 'ImageUri'))] : [];
    case 'AWS::Batch::JobDefinition':
      return get(p, 'ContainerProperties', 'Image') ? [text(get(p, 'ContainerProperties', 'Image'))] : [];
    case 'AWS::CodeBuild::Project': {
      const image = text(get(p, 'Environment', 'Image'));
      return CODEBUILD_CURATED.test(image) ? [] : [image];
    }
    case 'AWS::SageMaker::Model':
      return get(p, 'PrimaryContainer', 'Image') ? [text(get(p, 'PrimaryContainer', 'Image'))] : [];
    case 'Custom::AWSCDK-EKS-KubernetesResource':
      // Manifests are JSON text: every "image" field, at any depth.
      return propertyTexts(node, p.Manifest).flatMap((m) => [...m.matchAll(/"image"\s*:\s*"([^"]+)"/g)].map((x) => x[1]));
    case 'Custom::AWSCDK-EKS-HelmChart': {
      const repo = get(p, 'Repository');
      // A chart from a CDK asset has no Repository; an OCI chart must come from the private ECR.
      return repo ? [text(repo).replace(/^oci:\/\//, '')] : [];
    }
    default:
      return [];
  }
}

export const PrivateEcrImagesOnly: ChinaRule = {
  id: 'PrivateEcrImagesOnly',
  level: NagMessageLevel.ERROR,
  info: 'A container image or chart is not pulled from a private ECR registry in the stack\'s region.',
  explanation:
    'Docker Hub, nvcr.io, ghcr.io, registry.k8s.io and ECR Public are blocked or unreliable from China, and ECR pull-through cache is not supported in the China regions. Mirror every image into private ECR (npm run mirror-images) and reference <account>.dkr.ecr.<region>.amazonaws.com.cn/<repo>.',
  check(node) {
    const images = imageReferences(node);
    if (images.length === 0) return NagRuleCompliance.NOT_APPLICABLE;
    const region = Stack.of(node).region;
    const bad = images.filter((image) => {
      const m = PRIVATE_ECR_IMAGE_PATTERN.exec(image);
      return !m || !(m[2] === region || m[2].startsWith('{'));
    });
    return bad.length > 0 ? [...new Set(bad)] : NagRuleCompliance.COMPLIANT;
  },
};
