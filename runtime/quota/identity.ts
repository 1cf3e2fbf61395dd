import { stableCaller } from '../gateway/caller';
import { GatewayRequest } from '../gateway/types';
import { LimitEntries } from './counter-store';

/** The group of identities that have no other. */
export const DEFAULT_GROUP = 'default';

/** `*` matches any characters (none included); everything else literally. */
export function patternMatcher(pattern: string): RegExp {
  return new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/**
 * Who is metered: the identity the host authenticated (a door API key's id), else the caller's
 * stable principal (an assumed-role session counts as its role, as for the Caller metric).
 */
export function identityOf(req: GatewayRequest): string {
  return req.identity ?? stableCaller(req.caller);
}

export class GroupResolver {
  private readonly patterns: { match: RegExp; group: string }[];

  constructor(principals: readonly { pattern: string; group: string }[]) {
    this.patterns = principals.map((p) => ({ match: patternMatcher(p.pattern), group: p.group }));
  }

  /** The group the host named (a key's group) first, then one set in the table, then the first matching pattern, else default. */
  groupOf(identity: string, hostGroup: string | undefined, entries: LimitEntries): string {
    return hostGroup ?? entries.identities[identity]?.group ?? this.patterns.find((p) => p.match.test(identity))?.group ?? DEFAULT_GROUP;
  }
}
