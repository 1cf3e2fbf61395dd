import { Annotations, CfnOutput, RemovalPolicy, Stack, StackProps, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { invocationId, isoDay, lifecycleOn } from '../bedrock/catalog';
import { globalArn } from '../china/china';
import { names } from '../config/names';
import { BedrockModel, KitConfig } from '../config/schema';
import { EncryptedLogGroup } from '../constructs/encrypted-log-group';

export interface BedrockAccessStackProps extends Omit<StackProps, 'env'> {
  readonly config: KitConfig;
}

/**
 * The global side of the cross-region path, deployed in the global account with a global profile.
 * China IAM cannot be trusted from here (separate partitions), so the China gateway calls Bedrock as
 * a dedicated IAM user whose key an operator hands over (npm run link-credentials). CloudFormation
 * creates no access key: it would land in the template or the stack's state.
 */
export class BedrockAccessStack extends Stack {
  public readonly user: iam.User;
  public readonly policy: iam.Policy;

  constructor(scope: Construct, id: string, props: BedrockAccessStackProps) {
    super(scope, id, { ...props, env: { account: props.config.global.account, region: props.config.global.region } });
    const { config } = props;
    const bedrock = config.bedrock;

    this.user = new iam.User(this, 'GatewayUser', { userName: names(config).gatewayUser });
    const sourceIpCondition = bedrock.sourceIps.length > 0 ? { IpAddress: { 'aws:SourceIp': bedrock.sourceIps } } : undefined;

    const arns = bedrockModelArns(bedrock.models, config.global.region, config.global.account);
    const statements = [
      new iam.PolicyStatement({
        sid: 'InvokeAllowListedModels',
        actions: INVOKE_ACTIONS,
        resources: arns.invoked,
        ...(sourceIpCondition && { conditions: sourceIpCondition }),
      }),
    ];
    if (arns.behindProfiles.length > 0) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'ServeThroughAllowListedProfiles',
          actions: INVOKE_ACTIONS,
          resources: arns.behindProfiles,
          // The foundation models answer only calls made through an allow-listed profile, never direct ones.
          conditions: { ...sourceIpCondition, StringEquals: { 'bedrock:InferenceProfileArn': arns.profiles } },
        }),
      );
    }
    const rerankers = bedrock.models.filter((m) => m.kind === 'rerank');
    if (rerankers.length > 0) {
      // The Rerank API authorizes bedrock:Rerank (no resource type) and bedrock:InvokeModel on the reranker (InvokeAllowListedModels).
      statements.push(new iam.PolicyStatement({ sid: 'RerankWithAllowListedModels', actions: ['bedrock:Rerank'], resources: ['*'], ...(sourceIpCondition && { conditions: sourceIpCondition }) }));
    }
    if (bedrock.guardrail) {
      statements.push(
        new iam.PolicyStatement({
          sid: 'ApplyGuardrail',
          actions: ['bedrock:ApplyGuardrail'],
          resources: [globalArn({ service: 'bedrock', region: config.global.region, account: config.global.account, resource: `guardrail/${bedrock.guardrail.id}` })],
          ...(sourceIpCondition && { conditions: sourceIpCondition }),
        }),
      );
    }
    // Permissions through a group, not on the user itself (NIST 800-53 AC-2, AC-6).
    const group = new iam.Group(this, 'GatewayGroup');
    this.user.addToGroup(group);
    this.policy = new iam.Policy(this, 'InvokePolicy', { statements, groups: [group] });

    if (rerankers.length > 0) {
      Validations.of(this.policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: `bedrock:Rerank has no resource type; which rerankers answer is limited by bedrock:InvokeModel on the allow-listed models (${rerankers.map((m) => m.alias).join(', ')}).`,
      });
    }
    warnAboutLifecycles(this, bedrock.models, isoDay(new Date()));
    if (bedrock.invocationLogging) this.enableInvocationLogging(config);

    new CfnOutput(this, 'GatewayUserName', { value: this.user.userName, description: 'IAM user the China gateway calls Bedrock as; run npm run link-credentials to hand its key to China' });
    new CfnOutput(this, 'AllowedModels', { value: bedrock.models.map((m) => `${m.alias}=${invocationId(m)}`).join(','), description: 'Cross-border allow-list' });
    new CfnOutput(this, 'SourceIpPin', { value: bedrock.sourceIps.length > 0 ? bedrock.sourceIps.join(',') : 'none: set bedrock.sourceIps to the China NatEgressIps', description: 'Source IPs the key works from' });
  }

  /** Account-wide Bedrock setting: prompts and completions of every caller in this region go to an encrypted log group. */
  private enableInvocationLogging(config: KitConfig) {
    const logGroup = new EncryptedLogGroup(this, 'InvocationLogs', {
      retentionDays: config.bedrock.invocationLogRetentionDays as logs.RetentionDays,
      purpose: 'Bedrock model invocation logs',
      retain: true,
    });
    const role = new iam.Role(this, 'InvocationLoggingRole', {
      assumedBy: new iam.ServicePrincipal('bedrock.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': this.account } } }),
    });
    role.addToPolicy(new iam.PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroup.logGroupArn] }));
    const loggingConfig = {
      loggingConfig: {
        cloudWatchConfig: { logGroupName: logGroup.logGroup.logGroupName, roleArn: role.roleArn },
        textDataDeliveryEnabled: true,
        imageDataDeliveryEnabled: false,
        embeddingDataDeliveryEnabled: false,
      },
    };
    const setting = new cr.AwsCustomResource(this, 'InvocationLogging', {
      onCreate: { service: 'Bedrock', action: 'PutModelInvocationLoggingConfiguration', parameters: loggingConfig, physicalResourceId: cr.PhysicalResourceId.of(`${this.account}-${this.region}-bedrock-logging`) },
      onUpdate: { service: 'Bedrock', action: 'PutModelInvocationLoggingConfiguration', parameters: loggingConfig, physicalResourceId: cr.PhysicalResourceId.of(`${this.account}-${this.region}-bedrock-logging`) },
      onDelete: { service: 'Bedrock', action: 'DeleteModelInvocationLoggingConfiguration' },
      policy: cr.AwsCustomResourcePolicy.fromStatements([
        new iam.PolicyStatement({ actions: ['bedrock:PutModelInvocationLoggingConfiguration', 'bedrock:DeleteModelInvocationLoggingConfiguration'], resources: ['*'] }),
        new iam.PolicyStatement({ actions: ['iam:PassRole'], resources: [role.roleArn] }),
      ]),
      installLatestAwsSdk: false,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    Validations.of(setting).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'Bedrock model invocation logging is an account-level setting: its Put/Delete actions have no resource-level permissions.',
    });
    const provider = this.node.tryFindChild('AWS679f53fac002430cb0da5b7982bd2287');
    if (provider) {
      Validations.of(provider).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'CDK\'s AwsCustomResource provider function writes only its own logs with the basic execution policy; it runs once per deploy.',
      });
    }
  }
}

/**
 * Synth warnings for allow-listed models whose lifecycle needs the operator's attention: legacy (an
 * end of life is announced), preview (may change or go away), and past end of life but kept through
 * bedrock.allowEndOfLife (the config check fails synth for the others).
 */
export function warnAboutLifecycles(scope: Construct, models: readonly BedrockModel[], today: string): void {
  for (const m of models) {
    const status = lifecycleOn(m, today);
    if (status === 'active') continue;
    const what =
      status === 'end-of-life'
        ? `is past its end of life${m.endOfLife ? ` (${m.endOfLife})` : ''} and kept only because bedrock.allowEndOfLife lists it: its calls fail. Remove it from bedrock.models.`
        : status === 'legacy'
          ? `is Legacy${m.endOfLife ? ` with end of life on ${m.endOfLife}` : ''}: calls fail from then on. Move callers to an active model and remove it from bedrock.models.`
          : 'is in preview: Bedrock may change or withdraw it; do not build on it for production.';
    Annotations.of(scope).addWarningV2(`cn-llm-kit:${status}-model:${m.alias}`, `Bedrock model "${m.alias}" (${m.modelId}) ${what}${m.note ? ` ${m.note}` : ''}`);
  }
}

const INVOKE_ACTIONS = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'];

export interface BedrockModelArns {
  /** What the gateway names in its calls: inference profiles in the home region, and foundation models called without a profile. */
  readonly invoked: string[];
  /** The inference profiles among them. */
  readonly profiles: string[];
  /** The foundation models Bedrock authorizes as well when a call goes through a profile. */
  readonly behindProfiles: string[];
}

/**
 * The ARNs Bedrock authorizes for the allow-listed models (AWS Bedrock user guide, "Prerequisites for
 * inference profiles"): a call through a cross-Region profile is checked against the profile and
 * against the foundation model in each Region the profile may route to; a global profile routes to
 * any commercial Region and is checked against the model in the source Region and against the
 * region-less `arn:aws:bedrock:::foundation-model/<id>`. Literal arn:aws: : this stack lives in the
 * global partition.
 */
export function bedrockModelArns(models: readonly BedrockModel[], homeRegion: string, account: string): BedrockModelArns {
  const invoked = new Set<string>();
  const profiles = new Set<string>();
  const behindProfiles = new Set<string>();
  const foundationModel = (region: string, m: BedrockModel) => globalArn({ service: 'bedrock', region, account: '', resource: `foundation-model/${m.modelId}` });
  for (const m of models) {
    if (m.profile === 'none') {
      invoked.add(foundationModel(m.region ?? homeRegion, m));
      continue;
    }
    const profile = globalArn({ service: 'bedrock', region: homeRegion, account, resource: `inference-profile/${invocationId(m)}` });
    invoked.add(profile);
    profiles.add(profile);
    // The source Region serves calls too; a global profile's destinations are every commercial Region, hence the region-less ARN.
    const regions = [homeRegion, ...m.destinationRegions, ...(m.profile === 'global' ? [''] : [])];
    for (const region of regions) behindProfiles.add(foundationModel(region, m));
  }
  return { invoked: [...invoked], profiles: [...profiles], behindProfiles: [...behindProfiles] };
}
