import { ArnFormat, Aspects, IAspect, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct, IConstruct } from 'constructs';
import { KitConfig } from '../config/schema';

export interface AlarmTopicProps {
  /** Encrypts the topic; CloudWatch is allowed to use it for alarm notifications. */
  readonly key: kms.IKey;
  /** Who is told (config `alarms`). */
  readonly recipients: KitConfig['alarms'];
  /** Said in the topic's display name, e.g. "cnllm gateway". */
  readonly displayName: string;
}

/**
 * The topic a stack's alarms notify: KMS-encrypted, TLS-only, with the configured e-mail and HTTPS
 * subscribers. One per stack, so no stack waits on another's deploy for its alarms to reach someone.
 */
export class AlarmTopic extends Construct {
  public readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: AlarmTopicProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.topic = new sns.Topic(this, 'Topic', { displayName: `${props.displayName} alarms`, masterKey: props.key, enforceSSL: true });
    const cloudWatch = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    // Only this account's alarms in this region may publish (no confused deputy).
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'AlarmsOfThisAccountPublish',
        principals: [cloudWatch],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'cloudwatch', resource: 'alarm', resourceName: '*', arnFormat: ArnFormat.COLON_RESOURCE_NAME }) },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    // Publishing to an encrypted topic needs the publisher to use the key.
    props.key.grant(cloudWatch, 'kms:Decrypt', 'kms:GenerateDataKey*');
    for (const address of props.recipients.email) this.topic.addSubscription(new subscriptions.EmailSubscription(address));
    for (const url of props.recipients.httpsEndpoints) this.topic.addSubscription(new subscriptions.UrlSubscription(url, { protocol: sns.SubscriptionProtocol.HTTPS }));
  }

  /** Every CloudWatch alarm in `scope`, present or added later, notifies this topic when it fires and when it recovers. */
  notifyOnEveryAlarm(scope: IConstruct): void {
    Aspects.of(scope).add(new NotifyOnAlarms(new cloudwatchActions.SnsAction(this.topic)));
  }
}

class NotifyOnAlarms implements IAspect {
  private readonly wired = new Set<cloudwatch.Alarm>();

  constructor(private readonly action: cloudwatch.IAlarmAction) {}

  visit(node: IConstruct): void {
    if (!(node instanceof cloudwatch.Alarm) || this.wired.has(node)) return;
    this.wired.add(node);
    node.addAlarmAction(this.action);
    node.addOkAction(this.action);
  }
}
