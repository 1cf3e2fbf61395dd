import { Template } from 'aws-cdk-lib/assertions';

/** The resources of one type in a synthesized template, as plain objects. */
export const resourcesOf = (template: Template, type: string) => Object.values(template.findResources(type)) as { Properties: any; UpdatePolicy?: any }[];

/** The stacks a template takes values from: StackName of each Fn::GetStackOutput, export name of each Fn::ImportValue. */
export function referencedStacks(template: object): string[] {
  const found = new Set<string>();
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(visit);
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node)) {
      if (key === 'Fn::GetStackOutput') found.add(String((value as { StackName: unknown }).StackName));
      else if (key === 'Fn::ImportValue') found.add(`import:${JSON.stringify(value)}`);
      visit(value);
    }
  };
  visit(template);
  return [...found].sort();
}
