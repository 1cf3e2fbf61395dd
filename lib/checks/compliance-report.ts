import * as fs from 'fs';
import * as path from 'path';
import { ComplianceLedger, Outcome, RuleEvaluation, RuleInfo } from './compliance-ledger';

export interface StackReport {
  readonly stackName: string;
  readonly markdown: string;
  readonly csv: string;
  /** Unacknowledged findings of Error rules: these fail synth. */
  readonly unacknowledged: number;
  /** Unacknowledged findings of Warning rules: shown, not blocking. */
  readonly warnings: number;
  readonly acknowledged: number;
}

const isError = (e: RuleEvaluation) => e.level === 'Error';

interface RuleSummary extends RuleInfo {
  readonly counts: Record<Outcome, number>;
}

/** One report per stack: every rule that ran, its findings, and every acknowledgement with its reason. */
export function buildStackReports(ledger: ComplianceLedger, stackNames: readonly string[]): StackReport[] {
  const all = ledger.evaluations;
  return stackNames.map((stackName) => {
    const evaluations = all.filter((e) => e.stackName === stackName);
    const summaries = summarize(ledger.rules, evaluations);
    const open = evaluations.filter((e) => e.outcome === 'non-compliant' || e.outcome === 'rule-error');
    const acknowledged = evaluations.filter((e) => e.outcome === 'acknowledged');
    const errors = open.filter(isError).length;
    return {
      stackName,
      markdown: renderMarkdown(stackName, summaries, open, acknowledged, errors),
      csv: renderCsv(stackName, summaries, evaluations),
      unacknowledged: errors,
      warnings: open.length - errors,
      acknowledged: acknowledged.length,
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
    '| Stack | Result | Unacknowledged errors | Open warnings | Acknowledged | Report |',
    '|---|---|---|---|---|---|',
    ...reports.map(
      (r) => `| ${r.stackName} | ${r.unacknowledged === 0 ? 'PASS' : 'FAIL'} | ${r.unacknowledged} | ${r.warnings} | ${r.acknowledged} | [${r.stackName}.md](${r.stackName}.md) |`,
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

function renderMarkdown(stackName: string, rules: RuleSummary[], open: RuleEvaluation[], acknowledged: RuleEvaluation[], errors: number): string {
  const packs = [...new Set(rules.map((r) => r.pack))].join(', ');
  const applicable = rules.filter((r) => r.counts.compliant + r.counts['non-compliant'] + r.counts.acknowledged + r.counts['rule-error'] > 0);
  const lines = [
    `# Compliance report: ${stackName}`,
    '',
    `**Result: ${errors === 0 ? 'PASS' : 'FAIL'}**: ${errors} unacknowledged error(s), ${open.length - errors} open warning(s), ${acknowledged.length} acknowledged.`,
    `Packs: ${packs}. ${rules.length} rules ran; ${applicable.length} applied to at least one resource of this stack.`,
    '',
    '## Unacknowledged findings (errors fail synth; warnings do not)',
    '',
    ...(open.length === 0
      ? ['None.']
      : ['| Rule | Level | Resource | Finding | What is wrong |', '|---|---|---|---|---|', ...open.map((e) => `| ${e.ruleId} | ${e.level} | ${cell(e.resourcePath)} | ${cell(e.finding)} | ${cell(e.outcome === 'rule-error' ? `rule error: ${e.reason}` : e.info)} |`)]),
    '',
    '## Acknowledgements',
    '',
    ...(acknowledged.length === 0
      ? ['None.']
      : ['| Rule | Resource | Finding | Reason |', '|---|---|---|---|', ...acknowledged.map((e) => `| ${e.ruleId} | ${cell(e.resourcePath)} | ${cell(e.finding)} | ${cell(e.reason)} |`)]),
    '',
    '## Rules that ran',
    '',
    'Counts are resources of this stack: compliant, acknowledged findings, unacknowledged findings, and not applicable.',
    '',
    '| Pack | Rule | Level | Compliant | Acknowledged | Findings | N/A | Checks |',
    '|---|---|---|---|---|---|---|---|',
    ...rules.map(
      (r) =>
        `| ${r.pack} | ${r.ruleId} | ${r.level} | ${r.counts.compliant} | ${r.counts.acknowledged} | ${r.counts['non-compliant'] + r.counts['rule-error']} | ${r.counts['not-applicable']} | ${cell(r.info)} |`,
    ),
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
