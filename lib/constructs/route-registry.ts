import { ArnFormat, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { RouteEntry } from '../../runtime/gateway/route-registry';
import { grantSecretsReadByNamePrefix } from '../china/secret-read';
import { names } from '../config/names';
import { KitConfig } from '../config/schema';
import type { SelfHostedRoute } from '../config/vllm-routes';
import { modelKindOfTask } from '../vllm/server';

/** Where a self-hosted service answers and which secret holds its key: what its stack knows once deployed. */
export interface VllmServiceAddress {
  /** OpenAI base URL up to and including /v1 (inside the VPC). */
  readonly baseUrl: string;
  readonly apiKeySecretArn: string;
}

/** The registry entry of one self-hosted route: vLLM, inside China. */
export function routeEntry(route: SelfHostedRoute, address: VllmServiceAddress, modelKind: RouteEntry['modelKind'] = 'chat'): RouteEntry {
  return {
    alias: route.alias,
    platform: route.platform,
    servedName: route.servedName,
    routeName: route.routeName,
    baseUrl: address.baseUrl,
    apiKeySecretArn: address.apiKeySecretArn,
    kind: 'vllm',
    crossBorder: false,
    modelKind,
  };
}

export interface VllmRouteRegistrationProps extends VllmServiceAddress {
  readonly config: KitConfig;
  readonly route: SelfHostedRoute;
}

/**
 * Registers one self-hosted route: a Parameter Store parameter `/<prefix>/routes/<alias>` holding its
 * entry as JSON. The gateway reads the hierarchy at run time, so the vLLM stack and the Gateway stack
 * never reference each other and deploy in either order. Parameter names are unique: two stacks
 * cannot claim the same alias.
 */
export class VllmRouteRegistration extends Construct {
  public readonly parameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: VllmRouteRegistrationProps) {
    super(scope, id);
    this.parameter = new ssm.StringParameter(this, 'Parameter', {
      parameterName: names(props.config).routeParameter(props.route.alias),
      stringValue: Stack.of(this).toJsonString(routeEntry(props.route, props, modelKindOfTask(props.config.models.find((m) => m.servedName === props.route.servedName)?.task ?? 'generate'))),
      description: `cn-llm-kit route "${props.route.alias}" (vLLM on ${props.route.platform.toUpperCase()}): the gateway reads it at run time`,
      tier: ssm.ParameterTier.STANDARD,
    });
  }
}

/**
 * What the gateway needs to serve registered routes, and no more: list its kit's route parameters
 * (GetParametersByPath is authorized against the path itself, so no wildcard) and read its kit's vLLM
 * API key secrets by their name prefix, which the vLLM stacks use for every one of them.
 */
export function grantRouteRegistryRead(role: iam.IRole, config: KitConfig): void {
  const stack = Stack.of(role);
  const n = names(config);
  role.addToPrincipalPolicy(
    new iam.PolicyStatement({
      actions: ['ssm:GetParametersByPath'],
      resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: n.routeParameterPath.slice(1), arnFormat: ArnFormat.SLASH_RESOURCE_NAME })],
    }),
  );
  grantSecretsReadByNamePrefix(
    role,
    n.vllmApiKeySecretPrefix,
    `The vLLM stacks create their API key secrets apart from the gateway (no cross-stack reference, either may deploy first): the gateway reads only its kit's, by the name prefix ${n.vllmApiKeySecretPrefix} they all use.`,
  );
}
