import { CfnResource, IAspect, Stack, Validations } from 'aws-cdk-lib';
import { CfnFunction } from 'aws-cdk-lib/aws-lambda';
import { IConstruct } from 'constructs';

/**
 * CDK picks the newest Node.js runtime it knows for its own handlers (custom resources, providers),
 * e.g. nodejs24.x, which is not confirmed in the China regions: a deploy would fail there. This pins
 * every Node.js function of a China stack to the configured runtime, and records that reason
 * against cdk-nag's "latest runtime" rule.
 */
export class PinLambdaRuntime implements IAspect {
  constructor(
    private readonly runtime: string,
    /** CDK's Python handlers (EKS kubectl) take the newest Python likewise. */
    private readonly pythonRuntime = 'python3.12',
  ) {}

  private pinned(current: string): string | undefined {
    if (current.startsWith('nodejs')) return this.runtime;
    if (current.startsWith('python')) return this.pythonRuntime;
    return undefined;
  }

  visit(node: IConstruct): void {
    if (!CfnResource.isCfnResource(node) || node.cfnResourceType !== 'AWS::Lambda::Function') return;
    if (node instanceof CfnFunction) {
      const current = Stack.of(node).resolve(node.runtime);
      const target = typeof current === 'string' ? this.pinned(current) : undefined;
      if (!target) return;
      if (current !== target) node.runtime = target;
      Validations.of(node).acknowledge({
        id: 'AwsSolutions-L1',
        reason: `Runs ${target} (config lambda.runtime / lambda.pythonRuntime): newer runtimes are not confirmed in the AWS China regions, where global runtime release dates do not apply.`,
      });
    } else {
      // CDK's core custom resource providers are plain CfnResources; override the rendered property.
      const rendered = Stack.of(node).resolve((node as unknown as { _toCloudFormation(): { Resources: Record<string, any> } })._toCloudFormation());
      const current = (Object.values(rendered.Resources)[0] as { Properties?: { Runtime?: unknown } }).Properties?.Runtime;
      const target = typeof current === 'string' ? this.pinned(current) : undefined;
      if (target && current !== target) node.addPropertyOverride('Runtime', target);
    }
  }
}
