import { CHINA_PARTITION, CHINA_URL_SUFFIX, GLOBAL_ACCOUNTLESS_ARN_SERVICES, GLOBAL_PARTITION } from '../../lib/china/china';
import { cfnTexts, findArns, ParsedArn, pseudoValues } from '../../lib/checks/cfn-text';

export interface PartitionCheck {
  /** Every ARN the template holds, resolved for the stack's partition. */
  readonly arns: ParsedArn[];
  /** ARNs that are not `arn:aws-cn:` and not an allowed global-account resource. */
  readonly wrong: ParsedArn[];
}

/**
 * Resolves a China template's ARNs as CloudFormation will (literals, and Fn::Join / Fn::Sub with
 * AWS::Partition rendered as aws-cn) and sorts out any that are not `arn:aws-cn:`. Global ARNs are
 * allowed only for the given global accounts (and AWS-owned Bedrock resources, which have no account).
 */
export function checkChinaPartition(
  template: Record<string, any>,
  opts: { region: string; account: string; globalAccounts?: readonly string[] },
): PartitionCheck {
  const env = { pseudo: pseudoValues(CHINA_PARTITION, opts.region, opts.account, CHINA_URL_SUFFIX), conditions: template.Conditions ?? {} };
  const arns = findArns(cfnTexts({ Resources: template.Resources, Outputs: template.Outputs ?? {} }, env));
  const allowedGlobal = (a: ParsedArn) =>
    a.partition === GLOBAL_PARTITION &&
    ((opts.globalAccounts ?? []).includes(a.account) || (a.account === '' && GLOBAL_ACCOUNTLESS_ARN_SERVICES.includes(a.service)));
  return { arns, wrong: arns.filter((a) => a.partition !== CHINA_PARTITION && !allowedGlobal(a)) };
}
