import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import { IApplyRule, NagPack, NagRuleCompliance, NagRuleResult } from 'cdk-nag';
import { IConstruct } from 'constructs';

export type Outcome = 'compliant' | 'non-compliant' | 'acknowledged' | 'not-applicable' | 'rule-error';

export interface RuleInfo {
  readonly pack: string;
  readonly ruleId: string;
  readonly level: string;
  readonly info: string;
}

export interface RuleEvaluation extends RuleInfo {
  readonly stackName: string;
  readonly resourcePath: string;
  readonly outcome: Outcome;
  /** For rules that report several findings per resource: the finding, as used in `RuleId[finding]`. */
  readonly finding?: string;
  /** The acknowledgement's reason, or the rule's error message. */
  readonly reason?: string;
}

/**
 * Every rule evaluation of the packs that write to it, compliant ones included: cdk-nag itself keeps
 * only violations, but the compliance report must show every rule that ran.
 */
export class ComplianceLedger {
  private readonly evaluationsByPack = new Map<string, RuleEvaluation[]>();
  private readonly rulesById = new Map<string, RuleInfo>();

  /** A pack starts a new walk of the app: forget its previous run. */
  startRun(pack: string): void {
    this.evaluationsByPack.set(pack, []);
  }

  record(evaluation: RuleEvaluation): void {
    const list = this.evaluationsByPack.get(evaluation.pack) ?? [];
    list.push(evaluation);
    this.evaluationsByPack.set(evaluation.pack, list);
  }

  noteRule(rule: RuleInfo): void {
    if (!this.rulesById.has(rule.ruleId)) this.rulesById.set(rule.ruleId, rule);
  }

  get evaluations(): RuleEvaluation[] {
    return [...this.evaluationsByPack.values()].flat();
  }

  get rules(): RuleInfo[] {
    return [...this.rulesById.values()];
  }
}

/** The reason a rule id was acknowledged on the resource or one of its scopes, the way cdk-nag decides it. */
export function acknowledgementReason(resource: IConstruct, ruleId: string): string | undefined {
  for (let scope: IConstruct | undefined = resource; scope; scope = scope.node.scope) {
    for (const entry of scope.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !entry.data) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        if (id.replace(/^annotation::/i, '') === ruleId) return reason;
      }
    }
  }
  return undefined;
}

type NagPackClass = abstract new (...args: any[]) => NagPack;

/** A nag pack that also writes every evaluation into a ComplianceLedger. */
export function withLedger<TBase extends NagPackClass>(Base: TBase) {
  abstract class RecordingPack extends Base {
    public ledger?: ComplianceLedger;

    public validateScope(scope: IConstruct) {
      this.ledger?.startRun(this.readPackName);
      return super.validateScope(scope);
    }

    protected applyRule(params: IApplyRule): void {
      const ledger = this.ledger;
      const suffix = params.ruleSuffixOverride ?? params.rule.name;
      if (!ledger) return super.applyRule(params);
      const rule: RuleInfo = { pack: this.readPackName, ruleId: `${this.readPackName}-${suffix}`, level: params.level, info: params.info };
      ledger.noteRule(rule);
      super.applyRule({
        ...params,
        ruleSuffixOverride: suffix,
        rule: (node: CfnResource) => {
          let result: NagRuleResult;
          try {
            result = params.rule(node);
          } catch (e) {
            // cdk-nag honours an acknowledgement of a rule that throws; so does the ledger.
            const ack = acknowledgementReason(node, rule.ruleId);
            ledger.record({ ...rule, ...where(node), ...(ack === undefined ? { outcome: 'rule-error', reason: (e as Error).message } : { outcome: 'acknowledged', reason: ack }) });
            throw e;
          }
          for (const evaluation of evaluate(rule, node, result)) ledger.record(evaluation);
          return result;
        },
      });
    }
  }
  return RecordingPack;
}

function where(node: CfnResource) {
  return { stackName: Stack.of(node).stackName, resourcePath: node.node.path };
}

function evaluate(rule: RuleInfo, node: CfnResource, result: NagRuleResult): RuleEvaluation[] {
  const base = { ...rule, ...where(node) };
  const judged = (ruleId: string, finding?: string): RuleEvaluation => {
    const reason = acknowledgementReason(node, ruleId);
    return { ...base, finding, outcome: reason === undefined ? 'non-compliant' : 'acknowledged', reason };
  };
  if (Array.isArray(result)) {
    return result.length === 0 ? [{ ...base, outcome: 'compliant' }] : result.map((finding) => judged(`${rule.ruleId}[${finding}]`, finding));
  }
  if (result === NagRuleCompliance.NON_COMPLIANT) return [judged(rule.ruleId)];
  return [{ ...base, outcome: result === NagRuleCompliance.COMPLIANT ? 'compliant' : 'not-applicable' }];
}
