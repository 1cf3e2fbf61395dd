/** Lambda runtime pins and who hears about alarms. */
import { z } from 'zod';
import { CHINA_LAMBDA_DEFAULTS } from '../../china/china';
import { list } from './primitives';

export const lambdaSection = z
  .object({
    /** nodejs24.x is not confirmed in China; every Node.js function of the kit (CDK's own included) uses this. */
    runtime: z
      .enum(['nodejs20.x', 'nodejs22.x', 'nodejs24.x'], { error: 'must be nodejs20.x, nodejs22.x or nodejs24.x (nodejs22.x is the newest confirmed in China)' })
      .default(CHINA_LAMBDA_DEFAULTS.runtime),
    /** CDK's Python handlers (EKS kubectl) would pick the newest Python, which China may not have yet. */
    pythonRuntime: z.enum(['python3.11', 'python3.12', 'python3.13'], { error: 'must be python3.11, python3.12 or python3.13' }).default('python3.12'),
    architecture: z
      .enum(['x86_64', 'arm64'], { error: 'must be x86_64 or arm64 (arm64 Lambda is not confirmed in China)' })
      .default(CHINA_LAMBDA_DEFAULTS.architecture),
  })
  .strict()
  .prefault({});

/** Who is told when an alarm fires or recovers: every stack's alarms notify its own KMS-encrypted topic with these subscribers. */
export const alarmsSection = z
  .object({
    /** E-mail addresses (each confirms its subscription once, from the mail SNS sends). */
    email: list(z.string().email({ error: 'must be e-mail addresses, e.g. "ops@example.com"' })).default([]),
    /** HTTPS endpoints SNS posts notifications to (chat-ops webhooks, paging services); they confirm the subscription once. */
    httpsEndpoints: list(z.string().url({ error: 'must be https:// URLs of endpoints that accept SNS notifications' }).startsWith('https://', { error: 'must be https:// URLs (SNS delivers alarms over TLS only)' })).default([]),
  })
  .strict()
  .prefault({});
