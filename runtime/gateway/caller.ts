/**
 * The caller as a metric dimension. CloudWatch bills each distinct dimension value as a custom
 * metric: the raw identity of an assumed role names its session, so every session (each CI job,
 * each SSO login) would create new billed metrics. The full identity stays in the log line.
 */

/** Distinct Caller values one process reports before the rest are counted as `other`. */
export const MAX_CALLER_DIMENSIONS = 100;

/** What the metric reports for callers beyond the cap. */
export const OTHER_CALLERS = 'other';

const ASSUMED_ROLE = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.*$/;

/**
 * The stable principal behind a caller identity: an assumed-role session becomes its role's ARN
 * (`arn:aws-cn:sts::123456789012:assumed-role/Role/session` -> `arn:aws-cn:iam::123456789012:role/Role`).
 * STS leaves the role's path out of a session ARN, and a role name is unique in its account
 * whatever its path, so the ARN without the path still names exactly one role. IAM users, roles
 * (with or without a path), API keys and `local` are already stable and stay as they are.
 */
export function stableCaller(caller: string): string {
  const session = ASSUMED_ROLE.exec(caller);
  return session ? `arn:${session[1]}:iam::${session[2]}:role/${session[3]}` : caller;
}

/** Caller dimension values for one process: stable principals, at most `max` of them, then `other`. */
export class CallerDimensions {
  private readonly seen = new Set<string>();

  constructor(private readonly max = MAX_CALLER_DIMENSIONS) {}

  of(caller: string): string {
    const stable = stableCaller(caller);
    if (this.seen.has(stable)) return stable;
    if (this.seen.size >= this.max) return OTHER_CALLERS;
    this.seen.add(stable);
    return stable;
  }
}
