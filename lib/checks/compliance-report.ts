import * as fs from 'fs';
import * as path from 'path';
import { ComplianceLedger, Outcome, RuleEvaluation, RuleInfo } from './compliance-ledger';

export interface StackReport {
  readonly stackName: string;
  readonly markdown: string;
  readonly csv: string;
  /** Unacknowledged findings of Error rules of the gating packs: these fail synth. */
  readonly unacknowledged: number;
  /** Unacknowledged findings of Warning rules of the gating packs: shown, not blocking. */
  readonly warnings: number;
  readonly acknowledged: number;
  /** Open findings of informational packs (NIST 800-53 rev 5): a reference, never blocking. */
  readonly informational: number;
}

const isError = (e: RuleEvaluation) => e.level === 'Error';
const isOpen = (e: RuleEvaluation) => e.outcome === 'non-compliant' || e.outcome === 'rule-error';

interface RuleSummary extends RuleInfo {
  readonly counts: Record<Outcome, number>;
}

const applied = (r: RuleSummary) => r.counts.compliant + r.counts['non-compliant'] + r.counts.acknowledged + r.counts['rule-error'] > 0;

/** One report per stack: the rules that applied, their findings, and every acknowledgement with its reason. */
export function buildStackReports(ledger: ComplianceLedger, stackNames: readonly string[]): StackReport[] {
  const all = ledger.evaluations;
  return stackNames.map((stackName) => {
    const evaluations = all.filter((e) => e.stackName === stackName);
    const summaries = summarize(ledger.rules, evaluations);
    const gating = evaluations.filter((e) => !ledger.isInformational(e.pack));
    const reference = evaluations.filter((e) => ledger.isInformational(e.pack));
    const open = gating.filter(isOpen);
    const acknowledged = gating.filter((e) => e.outcome === 'acknowledged');
    const errors = open.filter(isError).length;
    const packs = [...new Set(ledger.rules.map((r) => r.pack))].sort();
    return {
      stackName,
      markdown: renderMarkdown({
        stackName,
        rules: summaries,
        open,
        acknowledged,
        errors,
        gatingPacks: packs.filter((p) => !ledger.isInformational(p)),
        informationalPacks: packs.filter((p) => ledger.isInformational(p)),
        reference: reference.filter((e) => isOpen(e) || e.outcome === 'acknowledged'),
      }),
      csv: renderCsv(stackName, summaries, evaluations),
      unacknowledged: errors,
      warnings: open.length - errors,
      acknowledged: acknowledged.length,
      informational: reference.filter(isOpen).length,
    };
  });
}

export function writeStackReports(reports: readonly StackReport[], dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  for (const r of reports) {
    fs.writeFileSync(path.join(dir, `${r.stackName}.md`), r.markdown);
    fs.writeFileSync(path.join(dir, `${r.stackName}.csv`), r.csv);
  }
  const index = [
    '# Compliance reports',
    '',
    'Result: the packs that gate synth (AwsSolutions, ChinaRegion). Informational findings (NIST 800-53 rev 5) are a reference and never fail.',
    'Template validity (CloudFormation quotas, output descriptions, the China registry) is checked separately on every synth (TemplateFormat, docs/RULES.md).',
    '',
    '| Stack | Result | Unacknowledged errors | Open warnings | Acknowledged | Informational findings | Report |',
    '|---|---|---|---|---|---|---|',
    ...reports.map(
      (r) =>
        `| ${r.stackName} | ${r.unacknowledged === 0 ? 'PASS' : 'FAIL'} | ${r.unacknowledged} | ${r.warnings} | ${r.acknowledged} | ${r.informational} | [${r.stackName}.md](${r.stackName}.md) |`,
    ),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(dir, 'README.md'), index);
}

function summarize(rules: readonly RuleInfo[], evaluations: readonly RuleEvaluation[]): RuleSummary[] {
  return rules
    .map((rule) => {
      const counts: Record<Outcome, number> = { compliant: 0, 'non-compliant': 0, acknowledged: 0, 'not-applicable': 0, 'rule-error': 0 };
      for (const e of evaluations) if (e.ruleId === rule.ruleId) counts[e.outcome]++;
      return { ...rule, counts };
    })
    .sort((a, b) => a.pack.localeCompare(b.pack) || a.ruleId.localeCompare(b.ruleId, 'en', { numeric: true }));
}

const cell = (s: string | undefined) => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ');

interface MarkdownInput {
  readonly stackName: string;
  readonly rules: RuleSummary[];
  readonly open: RuleEvaluation[];
  readonly acknowledged: RuleEvaluation[];
  readonly errors: number;
  readonly gatingPacks: string[];
  readonly informationalPacks: string[];
  /** Open and acknowledged findings of the informational packs. */
  readonly reference: RuleEvaluation[];
}

function renderMarkdown(m: MarkdownInput): string {
  const applicable = m.rules.filter(applied);
  const idle = m.rules.filter((r) => !applied(r));
  const idleByPack = [...new Set(idle.map((r) => r.pack))].map((p) => `${p} ${idle.filter((r) => r.pack === p).length}`).join(', ');
  const referenceOpen = m.reference.filter(isOpen);
  const lines = [
    `# Compliance report: ${m.stackName}`,
    '',
    `**Result: ${m.errors === 0 ? 'PASS' : 'FAIL'}**: ${m.errors} unacknowledged error(s), ${m.open.length - m.errors} open warning(s), ${m.acknowledged.length} acknowledged, in the packs that gate synth (${m.gatingPacks.join(', ')}).`,
    ...(m.informationalPacks.length > 0
      ? [`Informational, never failing synth: ${m.informationalPacks.join(', ')}: ${referenceOpen.length} open finding(s), ${m.reference.length - referenceOpen.length} acknowledged.`]
      : []),
    '',
    'Template validity is checked separately: on every synth the TemplateFormat checks read the synthesized template for what CloudFormation refuses before creating anything (literal output descriptions, quotas, logical ids, template size, resource types and properties of the China region\'s registry) and stop synth on any problem (docs/RULES.md). This report covers the rule packs below.',
    '',
    '## Unacknowledged findings (errors fail synth; warnings do not)',
    '',
    ...(m.open.length === 0
      ? ['None.']
      : [
          '| Rule | What it checks | Level | Resource | Finding |',
          '|---|---|---|---|---|',
          ...m.open.map((e) => `| ${e.ruleId} | ${cell(e.outcome === 'rule-error' ? `rule error: ${e.reason}` : e.info)} | ${e.level} | ${cell(e.resourcePath)} | ${cell(e.finding)} |`),
        ]),
    '',
    '## Acknowledgements',
    '',
    ...(m.acknowledged.length === 0
      ? ['None.']
      : ['| Rule | Resource | Finding | Reason |', '|---|---|---|---|', ...m.acknowledged.map((e) => `| ${e.ruleId} | ${cell(e.resourcePath)} | ${cell(e.finding)} | ${cell(e.reason)} |`)]),
    '',
    ...(m.informationalPacks.length === 0
      ? []
      : [
          `## Informational: ${m.informationalPacks.join(', ')}`,
          '',
          'A reference for auditors: these findings never fail synth. Acknowledged ones give the reason.',
          '',
          ...(m.reference.length === 0
            ? ['None.']
            : [
                '| Rule | What it checks | Resource | Finding | Acknowledged because |',
                '|---|---|---|---|---|',
                ...m.reference.map((e) => `| ${e.ruleId} | ${cell(e.info)} | ${cell(e.resourcePath)} | ${cell(e.finding)} | ${cell(e.outcome === 'acknowledged' ? e.reason : '')} |`),
              ]),
          '',
        ]),
    '## Rules that applied to this stack',
    '',
    'Counts are resources of this stack: compliant, acknowledged findings, unacknowledged findings.',
    '',
    '| Pack | Rule | What it checks | Level | Compliant | Acknowledged | Findings |',
    '|---|---|---|---|---|---|---|',
    ...applicable.map(
      (r) => `| ${r.pack} | ${r.ruleId} | ${cell(r.info)} | ${r.level} | ${r.counts.compliant} | ${r.counts.acknowledged} | ${r.counts['non-compliant'] + r.counts['rule-error']} |`,
    ),
    '',
    `${idle.length} further rules ran and applied to no resource of this stack${idle.length > 0 ? ` (${idleByPack}); the CSV lists them` : ''}.`,
    '',
  ];
  return lines.join('\n');
}

function csvField(s: string | undefined): string {
  const v = s ?? '';
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

/** One row per applicable evaluation, plus one row for each rule that applied to nothing in the stack. */
function renderCsv(stackName: string, rules: RuleSummary[], evaluations: RuleEvaluation[]): string {
  const header = ['stack', 'pack', 'rule', 'level', 'resource', 'outcome', 'finding', 'reason'];
  const rows = evaluations
    .filter((e) => e.outcome !== 'not-applicable')
    .sort((a, b) => a.ruleId.localeCompare(b.ruleId, 'en', { numeric: true }) || a.resourcePath.localeCompare(b.resourcePath))
    .map((e) => [stackName, e.pack, e.ruleId, e.level, e.resourcePath, e.outcome, e.finding, e.reason]);
  const idle = rules
    .filter((r) => r.counts['not-applicable'] > 0 && r.counts.compliant + r.counts['non-compliant'] + r.counts.acknowledged + r.counts['rule-error'] === 0)
    .map((r) => [stackName, r.pack, r.ruleId, r.level, '*', 'not-applicable', '', '']);
  return [header, ...rows, ...idle].map((row) => row.map(csvField).join(',')).join('\n') + '\n';
}
