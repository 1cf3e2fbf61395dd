import * as fs from 'fs';
import * as path from 'path';
import { IPolicyValidationContext, IPolicyValidationPlugin, PolicyValidationPluginReport, PolicyViolation } from 'aws-cdk-lib';
import { CHINA_LAGGING_PROPERTIES, CHINA_PROPERTY_PATTERNS, missingFromRegistry, missingTypeFix } from '../china/cfn-registry';
import { isChinaRegion } from '../china/china';

/**
 * Checks on the synthesized templates themselves, which no resource-level rule pack can see: what
 * CloudFormation refuses before it creates anything (a token in an output description, a quota
 * exceeded, a type or property the China region's registry does not have). Runs on every synth
 * next to the cdk-nag packs; any finding fails synth.
 *
 * Quotas: AWS CloudFormation User Guide, "Understand CloudFormation quotas".
 */

export const TEMPLATE_LIMITS = {
  resources: 500,
  outputs: 200,
  parameters: 200,
  mappings: 200,
  mappingAttributes: 200,
  logicalIdLength: 255,
  descriptionBytes: 1024,
  dynamicReferences: 60,
  /** "1 MB" on the quota page, read as 10^6 bytes (the stricter reading) for templates CloudFormation fetches from S3. */
  bodyBytesFromS3: 1_000_000,
  /** Templates passed inline in the CreateStack/UpdateStack request. */
  bodyBytesInline: 51_200,
} as const;

export interface TemplateFacts {
  /** The stack's region: China regions are checked against their registry. */
  readonly region?: string;
  /** Size of the template file CloudFormation receives. */
  readonly bodyBytes: number;
  /** The deploy hands CloudFormation an S3 URL (CDK's bootstrapped synthesizers) rather than the body inline. */
  readonly uploadedToS3: boolean;
  /** Properties of CHINA_LAGGING_PROPERTIES the operator has confirmed the region now accepts (e.g. `Tags`). */
  readonly acceptedLaggingProperties?: readonly string[];
}

export interface TemplateRule {
  readonly id: string;
  /** What the rule checks, as the report states it. */
  readonly checks: string;
}

export const TEMPLATE_RULES = {
  OutputDescriptionLiteral: { id: 'OutputDescriptionLiteral', checks: 'Every output Description is a literal string (CloudFormation refuses functions there in every partition)' },
  Quotas: { id: 'Quotas', checks: 'Resources <= 500, outputs <= 200, parameters <= 200, mappings <= 200 (200 attributes each), dynamic references <= 60' },
  LogicalIds: { id: 'LogicalIds', checks: 'Logical ids of resources, outputs, parameters, mappings and conditions are alphanumeric and at most 255 characters' },
  TemplateDescription: { id: 'TemplateDescription', checks: 'The template Description is a literal string of at most 1,024 bytes' },
  TemplateSize: { id: 'TemplateSize', checks: 'The template body is at most 1 MB when deployed from S3, 51,200 bytes when passed inline' },
  RegistryType: { id: 'RegistryType', checks: "Every resource type is in the China region's CloudFormation registry (lib/china/cfn-types)" },
  LaggingProperty: { id: 'LaggingProperty', checks: 'No resource sets a property the China registry is known not to have yet (lib/china/cfn-registry.ts)' },
  RegistryPattern: { id: 'RegistryPattern', checks: 'Literal values match the patterns the China registry sets where they are stricter than the global ones (lib/china/cfn-registry.ts)' },
} as const satisfies Record<string, TemplateRule>;

export interface TemplateProblem {
  readonly rule: TemplateRule;
  /** The template entry at fault (resource, output, ... logical id), or undefined for the template as a whole. */
  readonly logicalId?: string;
  /** Where in the template, e.g. `Outputs.Url.Description`. */
  readonly location: string;
  readonly message: string;
  readonly fix: string;
}

type Template = Record<string, any>;

const utf8Bytes = (s: string) => Buffer.byteLength(s, 'utf8');
const LOGICAL_ID = /^[A-Za-z0-9]+$/;

/** Every problem CloudFormation (or the China registry) would raise on this template. */
export function templateProblems(template: Template, facts: TemplateFacts): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  const add = (rule: TemplateRule, location: string, message: string, fix: string, logicalId?: string) => problems.push({ rule, location, message, fix, logicalId });
  const section = (name: string): Record<string, any> => template[name] ?? {};

  for (const [id, output] of Object.entries(section('Outputs'))) {
    if (output.Description !== undefined && typeof output.Description !== 'string') {
      add(TEMPLATE_RULES.OutputDescriptionLiteral, `Outputs.${id}.Description`, `output ${id} has a Description built with ${Object.keys(output.Description).join(', ')}`, 'Write the description as plain text; put the computed part in the output Value.', id);
    }
  }

  const counted: [string, number, string][] = [
    ['Resources', TEMPLATE_LIMITS.resources, 'split the stack (e.g. a nested stack)'],
    ['Outputs', TEMPLATE_LIMITS.outputs, 'drop outputs nobody reads, or combine them'],
    ['Parameters', TEMPLATE_LIMITS.parameters, 'use lists or mappings instead of one parameter per value'],
    ['Mappings', TEMPLATE_LIMITS.mappings, 'split the mappings across stacks'],
  ];
  for (const [name, limit, fix] of counted) {
    const count = Object.keys(section(name)).length;
    if (count > limit) add(TEMPLATE_RULES.Quotas, name, `${count} ${name.toLowerCase()}, more than CloudFormation's ${limit}`, fix);
  }
  for (const [id, mapping] of Object.entries(section('Mappings'))) {
    const attributes = Object.keys(mapping ?? {}).length;
    if (attributes > TEMPLATE_LIMITS.mappingAttributes) add(TEMPLATE_RULES.Quotas, `Mappings.${id}`, `mapping ${id} has ${attributes} attributes, more than ${TEMPLATE_LIMITS.mappingAttributes}`, 'Split it into several mappings.', id);
  }
  const dynamicReferences = (JSON.stringify(template).match(/\{\{resolve:/g) ?? []).length;
  if (dynamicReferences > TEMPLATE_LIMITS.dynamicReferences) {
    add(TEMPLATE_RULES.Quotas, '(template)', `${dynamicReferences} dynamic references ({{resolve:...}}), more than ${TEMPLATE_LIMITS.dynamicReferences}`, 'Read the values at run time instead of resolving them in the template.');
  }

  for (const name of ['Resources', 'Outputs', 'Parameters', 'Mappings', 'Conditions']) {
    for (const id of Object.keys(section(name))) {
      if (!LOGICAL_ID.test(id) || id.length > TEMPLATE_LIMITS.logicalIdLength) {
        add(TEMPLATE_RULES.LogicalIds, `${name}.${id}`, `logical id "${id}" ${LOGICAL_ID.test(id) ? `has ${id.length} characters` : 'is not alphanumeric'}`, 'Use letters and digits only, at most 255 characters (CDK derives them from construct ids).', id);
      }
    }
  }

  const description = template.Description;
  if (description !== undefined && (typeof description !== 'string' || utf8Bytes(description) > TEMPLATE_LIMITS.descriptionBytes)) {
    add(TEMPLATE_RULES.TemplateDescription, 'Description', typeof description === 'string' ? `the template description has ${utf8Bytes(description)} bytes` : 'the template description is not a literal string', 'Shorten the stack description to 1,024 bytes of plain text.');
  }

  const bodyLimit = facts.uploadedToS3 ? TEMPLATE_LIMITS.bodyBytesFromS3 : TEMPLATE_LIMITS.bodyBytesInline;
  if (facts.bodyBytes > bodyLimit) {
    add(
      TEMPLATE_RULES.TemplateSize,
      '(template)',
      `the template has ${facts.bodyBytes} bytes, more than ${bodyLimit} (${facts.uploadedToS3 ? 'from S3' : 'passed inline'})`,
      facts.uploadedToS3 ? 'Split the stack.' : 'Deploy through a bootstrapped environment (cdk deploy uploads the template to S3) or split the stack.',
    );
  }

  if (isChinaRegion(facts.region)) {
    const accepted = new Set(facts.acceptedLaggingProperties ?? []);
    for (const [id, resource] of Object.entries(section('Resources'))) {
      if (missingFromRegistry(facts.region, resource.Type)) {
        add(TEMPLATE_RULES.RegistryType, `Resources.${id}.Type`, `${resource.Type} is not in the ${facts.region} CloudFormation registry`, missingTypeFix(facts.region, resource.Type), id);
      }
      for (const property of CHINA_LAGGING_PROPERTIES[resource.Type] ?? []) {
        if (resource.Properties?.[property] === undefined || accepted.has(property)) continue;
        add(
          TEMPLATE_RULES.LaggingProperty,
          `Resources.${id}.Properties.${property}`,
          `${resource.Type} sets ${property}, which the ${facts.region} registry did not have`,
          property === 'Tags' ? 'Leave the type out of tagging (the kit does unless china.tagLaggingTypes is true), or set china.tagLaggingTypes once the region accepts it.' : `Do not set ${property} on ${resource.Type} in China.`,
          id,
        );
      }
      for (const [property, { pattern, rule }] of Object.entries(CHINA_PROPERTY_PATTERNS[resource.Type] ?? {})) {
        const value = resource.Properties?.[property];
        if (typeof value !== 'string' || pattern.test(value)) continue;
        add(
          TEMPLATE_RULES.RegistryPattern,
          `Resources.${id}.Properties.${property}`,
          `${resource.Type} ${property} "${value}" does not match the ${facts.region} registry's pattern (${rule})`,
          'Change the name (for the kit\'s repositories: prefix and modelStore.repositories) to fit the pattern.',
          id,
        );
      }
    }
  }
  return problems;
}

export interface TemplateFormatChecksProps {
  /** Properties of CHINA_LAGGING_PROPERTIES the operator says the China registry now accepts. @default [] */
  readonly acceptedLaggingProperties?: readonly string[];
}

/** The template checks as a CDK validation plugin: registered on the app, it fails synth on any problem. */
export class TemplateFormatChecks implements IPolicyValidationPlugin {
  public readonly name = 'cn-llm-kit TemplateFormat';
  public readonly version = '1.0.0';
  public readonly ruleIds = Object.values(TEMPLATE_RULES).map((r) => `TemplateFormat-${r.id}`);

  constructor(private readonly props: TemplateFormatChecksProps = {}) {}

  public validate(context: IPolicyValidationContext): PolicyValidationPluginReport {
    const violations = new Map<string, PolicyViolation & { violatingResources: PolicyViolation['violatingResources'][number][] }>();
    for (const stack of context.stackTemplates) {
      const body = fs.readFileSync(stack.templatePath, 'utf8');
      const problems = templateProblems(JSON.parse(body), {
        region: stack.region,
        bodyBytes: utf8Bytes(body),
        uploadedToS3: deploysFromS3(stack.templatePath),
        acceptedLaggingProperties: this.props.acceptedLaggingProperties,
      });
      for (const p of problems) {
        const key = `${p.rule.id}|${p.message}`;
        const violation = violations.get(key) ?? { ruleName: `TemplateFormat-${p.rule.id}`, description: `${p.rule.checks}: ${p.message}.`, fix: p.fix, severity: 'error', violatingResources: [] };
        violation.violatingResources.push(
          p.logicalId !== undefined && p.location.startsWith('Resources.')
            ? { resourceLogicalId: p.logicalId, templatePath: stack.templatePath, locations: [p.location] }
            : { constructPath: stack.stackConstructPath, templatePath: stack.templatePath, locations: [p.location] },
        );
        violations.set(key, violation);
      }
    }
    return { success: violations.size === 0, violations: [...violations.values()] };
  }
}

/** Whether the stack's deploy passes CloudFormation an S3 URL: the cloud assembly manifest says so (CDK's bootstrapped synthesizers do). */
function deploysFromS3(templatePath: string): boolean {
  const manifestPath = path.join(path.dirname(templatePath), 'manifest.json');
  if (!fs.existsSync(manifestPath)) return false;
  const manifest = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as { artifacts?: Record<string, { properties?: { templateFile?: string; stackTemplateAssetObjectUrl?: string } }> };
  const artifact = Object.values(manifest.artifacts ?? {}).find((a) => a.properties?.templateFile === path.basename(templatePath));
  return artifact?.properties?.stackTemplateAssetObjectUrl !== undefined;
}
