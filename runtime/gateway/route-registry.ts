import { z } from 'zod';
import type { Gateway } from './gateway';
import type { SsmParameter } from './ssm-parameters';
import type { GatewayRuntimeConfig } from './runtime-config';

/**
 * One self-hosted route as a vLLM stack registers it (the value of `/<prefix>/routes/<alias>`). The
 * stacks write it; the gateway reads it at run time, so neither stack references the other and a
 * model deployed after the gateway is routable without redeploying it.
 */
export const RouteEntrySchema = z.object({
  /** What callers send as `model`. */
  alias: z.string().min(1),
  /** Where the service runs (ec2: Auto Scaling group behind an ALB, eks: Deployment behind an NLB). */
  platform: z.enum(['ec2', 'eks']),
  /** The name vLLM serves the model under (`--served-model-name`): what the gateway sends upstream. */
  servedName: z.string().min(1),
  /** The upstream's name in the routing table and in the usage metrics (servedBy). */
  routeName: z.string().min(1),
  /** OpenAI base URL up to and including /v1, inside the VPC. */
  baseUrl: z.string().url(),
  /** Secrets Manager secret holding vLLM's --api-key. */
  apiKeySecretArn: z.string().min(1),
  kind: z.literal('vllm'),
  crossBorder: z.boolean(),
  /** What the served model does (vLLM --task): which endpoint routes to it. Entries written before the field existed are chat. @default chat */
  modelKind: z.enum(['chat', 'embed', 'rerank']).default('chat'),
});
export type RouteEntry = z.output<typeof RouteEntrySchema>;

type Log = (line: Record<string, unknown>) => void;

/**
 * The registry's routes, read at most once per `refreshMs` and shared by concurrent requests. A failed
 * read keeps the last good routes (logged): an SSM outage must not take self-hosted models away.
 */
export class RouteRegistry {
  private entries: readonly RouteEntry[] = [];
  private nextReadAt = 0;
  private reading?: Promise<readonly RouteEntry[]>;

  constructor(
    private readonly opts: {
      readonly path: string;
      readonly read: (path: string) => Promise<readonly SsmParameter[]>;
      readonly refreshMs: number;
      readonly now: () => number;
      readonly log: Log;
    },
  ) {}

  /** The current routes: the same array until a read finds a change, so callers can compare by identity. */
  routes(): Promise<readonly RouteEntry[]> {
    if (this.opts.now() < this.nextReadAt) return Promise.resolve(this.entries);
    this.reading ??= this.read().finally(() => (this.reading = undefined));
    return this.reading;
  }

  private async read(): Promise<readonly RouteEntry[]> {
    const { path, log } = this.opts;
    try {
      const parameters = await this.opts.read(path);
      const next: RouteEntry[] = [];
      for (const p of parameters) {
        const entry = parseEntry(p.value);
        if (entry.success) next.push(entry.data);
        else log({ level: 'warn', msg: 'route registry entry ignored', parameter: p.name, error: entry.error });
      }
      next.sort((a, b) => a.alias.localeCompare(b.alias));
      if (JSON.stringify(next) !== JSON.stringify(this.entries)) {
        log({ level: 'info', msg: 'route registry read', path, routes: next.map((e) => e.alias) });
        this.entries = next;
      }
    } catch (error) {
      log({ level: 'warn', msg: 'route registry unreachable: keeping the last good routes', path, error: (error as Error).message, kept: this.entries.map((e) => e.alias) });
    }
    // After a failure too: one attempt per interval, not one per request while SSM is down.
    this.nextReadAt = this.opts.now() + this.opts.refreshMs;
    return this.entries;
  }
}

function parseEntry(value: string): { success: true; data: RouteEntry } | { success: false; error: string } {
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    return { success: false, error: 'not JSON' };
  }
  const parsed = RouteEntrySchema.safeParse(json);
  return parsed.success ? parsed : { success: false, error: parsed.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ') };
}

/**
 * The environment's routes plus the registry's, in the shapes the gateway routes by. The
 * environment wins a clash: a registry entry never replaces a model or upstream the stack configured.
 */
export function withRegistryRoutes(config: GatewayRuntimeConfig, entries: readonly RouteEntry[], log: Log): GatewayRuntimeConfig {
  const settings = config.routeRegistry;
  if (!settings || entries.length === 0) return config;
  const aliases = new Set(config.models.flatMap((m) => (m.route === 'bedrock' ? [m.alias, m.modelId] : [m.alias])));
  const upstreamNames = new Set(config.upstreams.map((u) => u.name));
  const models = [...config.models];
  const upstreams = [...config.upstreams];
  for (const e of entries) {
    if (aliases.has(e.alias) || upstreamNames.has(e.routeName)) {
      log({ level: 'warn', msg: 'route registry entry ignored', alias: e.alias, error: `alias or route name ${e.routeName} is already routed` });
      continue;
    }
    aliases.add(e.alias);
    upstreamNames.add(e.routeName);
    models.push({ alias: e.alias, modelId: e.servedName, created: 0, route: e.routeName, kind: e.modelKind });
    upstreams.push({ name: e.routeName, kind: e.kind, baseUrl: e.baseUrl, apiKeySecretId: e.apiKeySecretArn, crossBorder: e.crossBorder, timeoutMs: settings.timeoutMs, maxAttempts: settings.maxAttempts, ...(settings.caCertificates && { caCertificates: settings.caCertificates }) });
  }
  return { ...config, models, upstreams };
}

/**
 * A gateway whose routing table follows the registry: each request routes by the registry's current
 * routes, and the gateway is rebuilt (cheap: tables, no connections) only when they changed.
 */
export function registryGateway(config: GatewayRuntimeConfig, registry: RouteRegistry, build: (config: GatewayRuntimeConfig) => Gateway, log: Log): Gateway {
  let current: { routes: readonly RouteEntry[]; gateway: Gateway } | undefined;
  return {
    async handle(req, sink) {
      const routes = await registry.routes();
      if (current?.routes !== routes) current = { routes, gateway: build(withRegistryRoutes(config, routes, log)) };
      return current.gateway.handle(req, sink);
    },
  };
}
