import { NagMessageLevel, NagRuleCompliance } from 'cdk-nag';
import { findUnreachableHost } from '../../china/china';
import { ChinaRule, propertyTexts } from '../china-rule';

/** Scans every property (user data, task and Kubernetes definitions, environment variables, build specs). */
export const NoUnreachableSources: ChinaRule = {
  id: 'NoUnreachableSources',
  level: NagMessageLevel.ERROR,
  info: 'The resource references a registry or host that is blocked or unreliable from mainland China.',
  explanation:
    'huggingface.co, Docker Hub, nvcr.io, ghcr.io, github.io, registry.k8s.io and ECR Public time out or are blocked from China, so boots, pulls and model loads hang. Stage weights into the in-region S3 bucket, mirror images into private ECR, and ship charts as CDK assets.',
  check(node) {
    const hosts = propertyTexts(node)
      .map((t) => findUnreachableHost(t)?.host)
      .filter((h): h is string => h !== undefined);
    return hosts.length > 0 ? [...new Set(hosts)] : NagRuleCompliance.COMPLIANT;
  },
};
