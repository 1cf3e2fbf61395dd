import { Template } from 'aws-cdk-lib/assertions';

/** The resources of one type in a synthesized template, as plain objects. */
export const resourcesOf = (template: Template, type: string) => Object.values(template.findResources(type)) as { Properties: any; UpdatePolicy?: any }[];
