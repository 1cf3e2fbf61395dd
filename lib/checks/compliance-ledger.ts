import { CfnResource, IPolicyValidationContext, PolicyValidationPluginReport, Stack, Validations } from 'aws-cdk-lib';
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
  private readonly informational = new Set<string>();

  /** The pack's findings are shown in the report but never fail synth (or the report's PASS). */
  markInformational(pack: string): void {
    this.informational.add(pack);
  }

  isInformational(pack: string): boolean {
    return this.informational.has(pack);
  }

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

/**
 * A nag pack that reports to the ledger only: its findings go into the compliance report, and synth
 * goes on whatever it finds (the pack is a reference, e.g. NIST 800-53, not a gate).
 */
export function informational<TBase extends ReturnType<typeof withLedger>>(Base: TBase, acknowledgements: StandingAcknowledgement[] = []) {
  abstract class InformationalPack extends Base {
    protected standingAcknowledgement(node: CfnResource, ruleId: string): string | undefined {
      for (const a of acknowledgements) {
        if (a.ruleId !== ruleId) continue;
        const reason = a.reason(node);
        if (reason !== undefined) return reason;
      }
      return undefined;
    }

    public validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
      this.ledger?.markInformational(this.readPackName);
      super.validate(context);
      return { success: true, violations: [] };
    }
  }
  return InformationalPack;
}

/**
 * An acknowledgement the kit keeps for a whole kind of finding of an informational pack, in one
 * table rather than on each construct (it never gates synth, and is not written into templates).
 */
export interface StandingAcknowledgement {
  readonly ruleId: string;
  /** The reason when it applies to this resource, undefined when it does not. */
  reason(node: CfnResource): string | undefined;
}

/** A nag pack that also writes every evaluation into a ComplianceLedger. */
export function withLedger<TBase extends NagPackClass>(Base: TBase) {
  abstract class RecordingPack extends Base {
    public ledger?: ComplianceLedger;

    /** A reason kept outside the construct tree; none unless a subclass keeps a table. */
    protected standingAcknowledgement(_node: CfnResource, _ruleId: string): string | undefined {
      return undefined;
    }

    public validateScope(scope: IConstruct) {
      this.ledger?.startRun(this.readPackName);
      return super.validateScope(scope);
    }

    /**
     * cdk-nag fails its report on any violation; the kit's contract (compliance report, README) is
     * that errors block synth and warnings do not: they are printed with the report and counted as
     * open warnings, and a deprecation warning cannot stop every deploy on a calendar day.
     */
    public validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
      const report = super.validate(context);
      return { ...report, success: report.violations.every((v) => v.severity === 'warning') };
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
            const ack = acknowledgementReason(node, rule.ruleId) ?? this.standingAcknowledgement(node, rule.ruleId);
            ledger.record({ ...rule, ...where(node), ...(ack === undefined ? { outcome: 'rule-error', reason: (e as Error).message } : { outcome: 'acknowledged', reason: ack }) });
            throw e;
          }
          const reasonFor = (ruleId: string) => acknowledgementReason(node, ruleId) ?? this.standingAcknowledgement(node, ruleId);
          for (const evaluation of evaluate(rule, node, result, reasonFor)) ledger.record(evaluation);
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

function evaluate(rule: RuleInfo, node: CfnResource, result: NagRuleResult, reasonFor: (ruleId: string) => string | undefined): RuleEvaluation[] {
  const base = { ...rule, ...where(node) };
  const judged = (ruleId: string, finding?: string): RuleEvaluation => {
    const reason = reasonFor(ruleId);
    return { ...base, finding, outcome: reason === undefined ? 'non-compliant' : 'acknowledged', reason };
  };
  if (Array.isArray(result)) {
    return result.length === 0 ? [{ ...base, outcome: 'compliant' }] : result.map((finding) => judged(`${rule.ruleId}[${finding}]`, finding));
  }
  if (result === NagRuleCompliance.NON_COMPLIANT) return [judged(rule.ruleId)];
  return [{ ...base, outcome: result === NagRuleCompliance.COMPLIANT ? 'compliant' : 'not-applicable' }];
}
