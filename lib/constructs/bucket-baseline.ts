import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';

/** What every bucket of the kit has: no public access, TLS 1.2+ only, bucket-owner objects, versions kept. */
const BASELINE = {
  blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
  enforceSSL: true,
  minimumTLSVersion: 1.2,
  objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
  versioned: true,
} as const;

/**
 * A bucket for S3 server access logs. S3 delivers those only to SSE-S3 buckets (not SSE-KMS), so
 * this one is the kit's only bucket without its KMS key; logs expire after a year.
 */
export function accessLogBucketProps(removalPolicy: RemovalPolicy): s3.BucketProps {
  return {
    ...BASELINE,
    encryption: s3.BucketEncryption.S3_MANAGED,
    lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
    removalPolicy,
  };
}

/**
 * A data bucket encrypted with a kit key (one data key per bucket: S3 Bucket Keys), logging its
 * access to `accessLogs` under `logPrefix`. Name, lifecycle and removal policy are the caller's.
 */
export function kmsBucketProps(key: kms.IKey, accessLogs: s3.IBucket, logPrefix: string): s3.BucketProps {
  return {
    ...BASELINE,
    encryption: s3.BucketEncryption.KMS,
    encryptionKey: key,
    bucketKeyEnabled: true,
    serverAccessLogsBucket: accessLogs,
    serverAccessLogsPrefix: logPrefix,
  };
}
