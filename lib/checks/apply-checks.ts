import { App, IPolicyValidationPlugin, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, NIST80053R5Checks } from 'cdk-nag';
import { ChinaRegionChecks } from './china-region-checks';
import { ComplianceLedger, informational, withLedger } from './compliance-ledger';
import { NIST_ACKNOWLEDGEMENTS } from './nist-acknowledgements';
import { TemplateFormatChecks } from './template-format-checks';

const RecordingAwsSolutionsChecks = withLedger(AwsSolutionsChecks);
const RecordingChinaRegionChecks = withLedger(ChinaRegionChecks);
/** NIST 800-53 rev 5 as a reference for auditors: in the compliance report, never a reason to fail synth. */
const InformationalNistChecks = informational(withLedger(NIST80053R5Checks), [...NIST_ACKNOWLEDGEMENTS]);

export interface ComplianceCheckOptions {
  readonly globalAccounts: readonly string[];
  readonly ledger?: ComplianceLedger;
  /** Lagging China properties the config says the region now accepts (`china.tagLaggingTypes` → `Tags`). @default [] */
  readonly acceptedLaggingProperties?: readonly string[];
  /** The day (YYYY-MM-DD) date-bound ChinaRegion rules judge by (Lambda runtime lifecycle). @default the day of the synth */
  readonly today?: string;
}

/**
 * Registers the packs that guard every stack: AwsSolutions on the whole app and ChinaRegion on every
 * China stack, then the template checks (output descriptions, quotas, the China registry) on the
 * synthesized templates. Synth fails on any unacknowledged error finding of these. With a ledger,
 * NIST 800-53 rev 5 runs too, for the compliance report only (informational, never fails synth). Acknowledgements are also
 * written into template metadata (`cdk_nag`) for auditors who read templates.
 */
export function applyComplianceChecks(app: App, options: ComplianceCheckOptions): void {
  const aws = new RecordingAwsSolutionsChecks(app, { verbose: true, writeSuppressionsToCloudFormation: true });
  const china = new RecordingChinaRegionChecks(app, { verbose: true, globalAccounts: [...options.globalAccounts], ...(options.today && { today: options.today }) });
  aws.ledger = options.ledger;
  china.ledger = options.ledger;
  const plugins: IPolicyValidationPlugin[] = [aws, china, new TemplateFormatChecks({ acceptedLaggingProperties: options.acceptedLaggingProperties })];
  // Without a ledger nobody reads NIST's findings: skip its walk of the app.
  if (options.ledger) {
    const nist = new InformationalNistChecks(app, { verbose: true });
    nist.ledger = options.ledger;
    plugins.push(nist);
  }
  Validations.of(app).addPlugins(...plugins);
}
