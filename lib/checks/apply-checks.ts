import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ChinaRegionChecks } from './china-region-checks';
import { ComplianceLedger, withLedger } from './compliance-ledger';

const RecordingAwsSolutionsChecks = withLedger(AwsSolutionsChecks);
const RecordingChinaRegionChecks = withLedger(ChinaRegionChecks);

/**
 * Registers the packs that guard every stack: AwsSolutions on the whole app and ChinaRegion on every
 * China stack. Synth fails on any unacknowledged error finding. Acknowledgements are also written
 * into template metadata (`cdk_nag`) for auditors who read templates.
 */
export function applyComplianceChecks(app: App, options: { globalAccounts: readonly string[]; ledger?: ComplianceLedger }): void {
  const aws = new RecordingAwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true });
  const china = new RecordingChinaRegionChecks(app, { verbose: true, globalAccounts: [...options.globalAccounts] });
  aws.ledger = options.ledger;
  china.ledger = options.ledger;
  Validations.of(app).addPlugins(aws, china);
}
