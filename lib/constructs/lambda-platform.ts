import * as lambda from 'aws-cdk-lib/aws-lambda';

/**
 * The runtime and CPU of a kit Node.js function from config (`lambda.runtime`, `lambda.architecture`):
 * by name, not CDK's constants, so a runtime the config accepts needs no CDK release to be used.
 */
export function nodeLambdaPlatform(runtime: string, architecture: string): { runtime: lambda.Runtime; architecture: lambda.Architecture } {
  return {
    runtime: new lambda.Runtime(runtime, lambda.RuntimeFamily.NODEJS, { supportsInlineCode: true }),
    architecture: architecture === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64,
  };
}
