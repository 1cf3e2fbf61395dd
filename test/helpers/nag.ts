import { PolicyValidationPluginReport } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { IConstruct } from 'constructs';
import { ChinaRegionChecks, ChinaRegionChecksProps } from '../../lib/checks/china-region-checks';

export interface NagFinding {
  readonly rule: string;
  readonly severity: string;
  readonly path: string;
}

/** Unacknowledged findings of both packs on a construct tree, as data for assertions. */
export function nagFindings(scope: IConstruct, chinaProps: ChinaRegionChecksProps = {}): NagFinding[] {
  return [...findingsOf(new AwsSolutionsChecks().validateScope(scope)), ...chinaFindings(scope, chinaProps)];
}

/** Findings of the ChinaRegion pack only. */
export function chinaFindings(scope: IConstruct, chinaProps: ChinaRegionChecksProps = {}): NagFinding[] {
  return findingsOf(new ChinaRegionChecks(undefined, chinaProps).validateScope(scope));
}

function findingsOf(report: PolicyValidationPluginReport): NagFinding[] {
  return report.violations.flatMap((v) =>
    v.violatingResources.map((res) => ({ rule: v.ruleName, severity: v.severity ?? 'error', path: res.constructPath ?? '' })),
  );
}
