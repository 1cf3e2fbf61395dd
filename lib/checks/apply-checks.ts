import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ChinaRegionChecks } from './china-region-checks';
import { ComplianceLedger, withLedger } from './compliance-ledger';
import { TemplateFormatChecks } from './template-format-checks';

const RecordingAwsSolutionsChecks = withLedger(AwsSolutionsChecks);
const RecordingChinaRegionChecks = withLedger(ChinaRegionChecks);

export interface ComplianceCheckOptions {
  readonly globalAccounts: readonly string[];
  readonly ledger?: ComplianceLedger;
  /** Lagging China properties the config says the region now accepts (`china.tagLaggingTypes` → `Tags`). @default [] */
  readonly acceptedLaggingProperties?: readonly string[];
}

/**
 * Registers the packs that guard every stack: AwsSolutions on the whole app and ChinaRegion on every
 * China stack, then the template checks (output descriptions, quotas, the China registry) on the
 * synthesized templates. Synth fails on any unacknowledged error finding. Acknowledgements are also
 * written into template metadata (`cdk_nag`) for auditors who read templates.
 */
export function applyComplianceChecks(app: App, options: ComplianceCheckOptions): void {
  const aws = new RecordingAwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true });
  const china = new RecordingChinaRegionChecks(app, { verbose: true, globalAccounts: [...options.globalAccounts] });
  aws.ledger = options.ledger;
  china.ledger = options.ledger;
  Validations.of(app).addPlugins(aws, china, new TemplateFormatChecks({ acceptedLaggingProperties: options.acceptedLaggingProperties }));
}
