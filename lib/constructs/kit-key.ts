import { Duration } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** Every customer managed key of the kit rotates yearly and can be recovered for 30 days after deletion. */
export function kitKey(scope: Construct, id: string, props: kms.KeyProps & { description: string }): kms.Key {
  return new kms.Key(scope, id, { enableKeyRotation: true, pendingWindow: Duration.days(30), ...props });
}
