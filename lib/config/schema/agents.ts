/** Multi-agent systems (a supervisor and its collaborators) that call the kit's gateway for every model call. */
import { z } from 'zod';
import { int } from './primitives';
import { imageSchema } from './self-hosted';

/** Agent names become env keys, IAM role descriptions and trace entries: short, lower-case, no spaces. */
const agentName = z.string().regex(/^[a-z][a-z0-9-]{0,30}$/, { error: 'must be 1-31 lower-case letters, digits or "-", starting with a letter, e.g. "researcher"' });
/** A model alias the gateway routes (checked against the routes in lib/config/cross-checks.ts). */
const modelAlias = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, { error: 'must be a model alias the gateway routes, e.g. "nova-lite"' });
const instructions = z.string().min(1, { error: 'must not be empty: the agent\'s system prompt' }).max(8000, { error: 'must be at most 8000 characters' });

export const collaboratorSchema = z
  .object({
    name: agentName,
    model: modelAlias,
    /** What the supervisor (or router) reads to decide whom to ask. */
    description: z.string().min(1).max(500, { error: 'must be at most 500 characters (the supervisor reads it on every turn)' }),
    instructions,
  })
  .strict();

/** A small useful team: one collaborator looks things up with the tools, one writes. */
export const DEFAULT_COLLABORATORS: z.input<typeof collaboratorSchema>[] = [
  {
    name: 'researcher',
    model: 'nova-lite',
    description: 'Finds facts: searches the team documents and the usage ledger with its tools and reports what it found, with sources.',
    instructions: 'You research questions for a colleague. Use your tools to find facts in the documents and the usage ledger. Report only what the tools returned, name the source of each fact, and say plainly when nothing was found.',
  },
  {
    name: 'writer',
    model: 'nova-pro',
    description: 'Writes the final answer: clear, structured prose or tables from the facts it is given.',
    instructions: 'You turn facts you are given into a clear answer for the user, in the user\'s language. Keep it short, use a table for numbers, and do not add facts you were not given.',
  },
];

/** Fargate (same container on ECS behind an internal ALB, HTTPS from internalTls, like the streaming door). */
const fargateSection = z
  .object({
    cpu: z.coerce.number().pipe(z.union([z.literal(256), z.literal(512), z.literal(1024), z.literal(2048), z.literal(4096)], { error: 'must be 256, 512, 1024, 2048 or 4096 (Fargate CPU units)' })).default(1024),
    memoryMiB: int(512, 30720, 'task memory').default(2048),
    tasks: int(1, 100, 'agent tasks').default(2),
    /** internalTls.mode certificate: your ACM certificate (arn:aws-cn:acm:...) covering agents.<internalTls.domain>. */
    certificateArn: z.string().regex(/^arn:aws-cn:acm:[a-z0-9-]+:\d{12}:certificate\/[0-9a-f-]+$/, { error: 'must be an ACM certificate ARN in China (arn:aws-cn:acm:...)' }).optional(),
  })
  .strict()
  .prefault({});

export const agentsSection = z
  .object({
    /** supervisor: the supervisor delegates to collaborators and composes the answer; routing: it picks one collaborator, whose answer is returned. */
    mode: z.enum(['supervisor', 'routing'], { error: 'must be supervisor or routing' }).default('supervisor'),
    /**
     * Where the agent container runs. agentcore-native: AWS::BedrockAgentCore::* CloudFormation types (not in
     * the China registries in June 2026: synth refuses it there); agentcore-api: custom resources that call
     * the AgentCore control-plane API; fargate: ECS Fargate behind an internal ALB.
     */
    platform: z.enum(['agentcore-native', 'agentcore-api', 'fargate'], { error: 'must be agentcore-native, agentcore-api or fargate' }).default('agentcore-api'),
    supervisor: z
      .object({
        name: agentName.default('supervisor'),
        model: modelAlias.default('nova-pro'),
        instructions: instructions.default('You lead a small team. Split the user\'s question into tasks, ask the right colleague for each, check their results against each other, and answer the user concisely in their language. Say what you could not find out.'),
      })
      .strict()
      .prefault({}),
    collaborators: z.array(collaboratorSchema).min(1, { error: 'must list at least one collaborator' }).max(10, { error: 'must list at most 10 collaborators' }).default(DEFAULT_COLLABORATORS),
    /** Session memory (DynamoDB): a session's turns expire this long after the last write. AgentCore Memory is not offered in China. */
    memoryTtlSeconds: int(300, 31536000, 'seconds a session is remembered').default(86400),
    /** One invocation (all agents of one question) may run this long: the invoke CLI's and the Fargate load balancer's timeout. */
    invocationTimeoutSeconds: int(10, 3600, 'seconds one invocation may run').default(300),
    /** AgentCore Runtime ends a session idle for this long (lifecycleConfiguration.idleRuntimeSessionTimeout). */
    idleSessionTimeoutSeconds: int(60, 28800, 'seconds an idle session is kept').default(900),
    /** AgentCore Runtime ends any session after this long (lifecycleConfiguration.maxLifetime). */
    maxSessionLifetimeSeconds: int(60, 28800, 'seconds a session may live').default(28800),
    /** Base of the agent image, in the kit's `node` ECR repository. AgentCore Runtime runs linux/arm64 images only: npm run mirror-images copies the arm64 variant under this tag. */
    baseImage: imageSchema.prefault({ source: 'docker.io/library/node:22-slim', tag: '22-slim-arm64', platform: 'linux/arm64' }),
    /** npm registry the image build uses (the operator's machine or CodeBuild in China). */
    npmRegistry: z.string().url().default('https://registry.npmmirror.com'),
    /**
     * https-through-nat: HTTPS to anywhere through the NAT gateways (a REGIONAL gateway API and the AgentCore
     * Gateway's public endpoint need it); vpc-only: HTTPS only inside the VPC (VPC endpoints, a PRIVATE gateway API).
     */
    egress: z.enum(['https-through-nat', 'vpc-only'], { error: 'must be https-through-nat or vpc-only' }).default('https-through-nat'),
    /**
     * Tools (runtime/agents/tools/*.ts, one Lambda each, AgentCore Gateway MCP targets) read what their TOOL_DATA declares:
     * usage_summary the Gateway stack's usage ledger, doc_search the documents under this prefix of the weights bucket.
     */
    docsPrefix: z.string().regex(/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*\/$/, { error: 'must be an S3 prefix ending in "/", e.g. "docs/"' }).default('docs/'),
    toolTimeoutSeconds: int(3, 300, 'seconds a tool Lambda may run').default(30),
    toolMemoryMb: int(128, 10240, 'tool Lambda memory').default(512),
    logRetentionDays: int(1, 3653, 'days agent logs are kept').default(365),
    fargate: fargateSection,
  })
  .strict()
  .prefault({});
