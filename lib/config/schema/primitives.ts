/** Building blocks of the configuration schema: lists from `-c a,b`, flags from `-c x=true`, bounded numbers, ids. */
import { z } from 'zod';

/** `-c key=a,b` gives a string; a list field accepts that as a comma-separated list. */
export const list = <T extends z.ZodType>(item: T, min = 0) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((s) => s.trim())
            .filter((s) => s.length > 0)
        : v,
    z.array(item).min(min, { error: `must list at least ${min}` }),
  );

export const flag = (value: boolean) =>
  z.preprocess((v) => (v === 'true' ? true : v === 'false' ? false : v), z.boolean({ error: 'must be true or false' })).default(value);

export const int = (min: number, max: number, what: string) =>
  z.coerce
    .number({ error: `must be a whole number (${what})` })
    .int({ error: `must be a whole number (${what})` })
    .min(min, { error: `must be at least ${min} (${what})` })
    .max(max, { error: `must be at most ${max} (${what})` });

export const accountId = (example: string, which: string) =>
  z
    .string({ error: `must be a 12-digit AWS account id given as a string (the ${which} account)` })
    .regex(/^[0-9]{12}$/, { error: `must be the 12-digit id of your ${which} account, e.g. "${example}"` });

export const cidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(1[6-9]|2[0-8])$/, {
    error: 'must be an IPv4 CIDR with a prefix from /16 to /28, e.g. "10.80.0.0/16"',
  });

/** The kit's own VPC splits its range into a small public and a large private subnet per AZ; /20 is the smallest that leaves room for GPU nodes and EKS pods. */
export const newVpcCidr = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(1[6-9]|20)$/, {
    error: 'must be an IPv4 CIDR with a prefix from /16 to /20 (room for private subnets in every AZ), e.g. "10.80.0.0/16"',
  });

export const ipv4 = z
  .string()
  .regex(/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(\/(3[0-2]|[12]?\d))?$/, { error: 'must be an IPv4 address or CIDR, e.g. "52.81.0.10"' });


/** EC2 ids end in 8 hex digits (older resources) or 17 (since 2018): nothing in between exists. */
export const ec2Id = (prefix: string, what: string, example: string) =>
  z.string().regex(new RegExp(`^${prefix}-([0-9a-f]{8}|[0-9a-f]{17})$`), {
    error: `must be ${what} id: "${prefix}-" and 8 or 17 lower-case hex digits, e.g. "${example}"`,
  });

export const globalRegion = z.string().regex(/^(us|eu|ap|ca|sa|me|af|il|mx)-[a-z]+-\d$/, { error: 'must be a global (aws partition) region such as "us-east-1"' });
