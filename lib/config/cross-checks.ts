import { z } from 'zod';
import { CHINA_REGIONS, isChinaRegion } from '../china/china';
import { sizingProblems } from '../gpu/sizing';
import type { KitSections } from './schema';
import { effectiveTlsMode, privateDnsLabel } from './schema/network';
import { checkDistill, routedAliases } from './distill-checks';
import { selfHostedRoutes } from './vllm-routes';
import { BEDROCK_CATALOG } from '../bedrock/catalog';
import { modelKindOfTask } from '../vllm/server';
import { quotaProblems } from './schema/quotas';

/**
 * Checks that span sections. They run even when some fields failed (so every problem is listed at
 * once), so each guards against the partly-invalid shapes it may see then.
 */
export function checkAcrossSections(c: KitSections, ctx: z.RefinementCtx): void {
  checkQuotas(c, ctx);
  const region = c.china?.region;
  if (!isChinaRegion(region)) return;
  const regionAzs = CHINA_REGIONS[region].availabilityZones;
  const azs = Array.isArray(c.china.availabilityZones) ? c.china.availabilityZones : [...regionAzs];
  azs.forEach((az, i) => {
    if (!regionAzs.includes(az)) {
      ctx.addIssue({
        code: 'custom',
        path: ['china', 'availabilityZones', i],
        message: `is not an availability zone of ${region}; use some of ${regionAzs.join(', ')}`,
      });
    }
  });
  if (new Set(azs).size !== azs.length) {
    ctx.addIssue({ code: 'custom', path: ['china', 'availabilityZones'], message: 'lists an availability zone twice; list each once' });
  }
  if (azs.length < 2) {
    ctx.addIssue({ code: 'custom', path: ['china', 'availabilityZones'], message: 'must list at least 2 availability zones (ALB and HA need two)' });
  }
  if (typeof c.network?.natGateways === 'number' && c.network.natGateways <= 3 && c.network.natGateways > azs.length) {
    ctx.addIssue({
      code: 'custom',
      path: ['network', 'natGateways'],
      message: `must be at most the number of availability zones (${azs.length}); one NAT gateway per AZ is the most that helps`,
    });
  }
  const existing = c.network?.existingVpc;
  if (existing) {
    for (const key of ['privateSubnetIds', 'privateSubnetRouteTableIds'] as const) {
      if (Array.isArray(existing[key]) && existing[key].length !== azs.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['network', 'existingVpc', key],
          message: `must list one entry per availability zone in china.availabilityZones (${azs.length}), in the same order`,
        });
      }
    }
  }
  const families = Array.isArray(c.gpu?.allowedInstanceFamilies) ? c.gpu.allowedInstanceFamilies : [...CHINA_REGIONS[region].gpuInstanceFamilies];
  (Array.isArray(c.models) ? c.models : []).forEach((m, i) => {
    if (!m || typeof m.instanceType !== 'string' || typeof m.parametersBillions !== 'number' || !m.vllm) return;
    for (const problem of sizingProblems({ ...m, ...m.vllm }, families, region)) {
      ctx.addIssue({ code: 'custom', path: ['models', i, ...problem.field.split('.')], message: problem.message });
    }
    if (typeof m.maxInstances === 'number' && typeof m.minInstances === 'number' && m.minInstances > m.maxInstances) {
      ctx.addIssue({ code: 'custom', path: ['models', i, 'minInstances'], message: `must not exceed maxInstances (${m.maxInstances})` });
    }
    const desired = m.desiredInstances;
    if (typeof desired === 'number' && (desired < m.minInstances || desired > m.maxInstances)) {
      ctx.addIssue({ code: 'custom', path: ['models', i, 'desiredInstances'], message: `must lie between minInstances (${m.minInstances}) and maxInstances (${m.maxInstances})` });
    }
  });
  const served = Array.isArray(c.models) ? c.models.map((m) => m?.servedName) : [];
  served.forEach((name, i) => {
    if (served.indexOf(name) !== i) {
      ctx.addIssue({ code: 'custom', path: ['models', i, 'servedName'], message: 'is used by another model; served names must be unique' });
    }
  });
  // Stacks that build on others: every missing one listed at once, before anything is constructed.
  const needsNetworkAndStore = { vllmEc2: 'vLLM on EC2', vllmEks: 'vLLM on EKS' } as const;
  for (const [stack, what] of Object.entries(needsNetworkAndStore)) {
    if (c.stacks?.[stack as keyof typeof needsNetworkAndStore] && !(c.stacks.network && c.stacks.modelStore)) {
      ctx.addIssue({ code: 'custom', path: ['stacks', stack], message: `${what} needs the kit's network and model store; enable stacks.network and stacks.modelStore too` });
    }
  }
  if (c.stacks?.gateway && !c.stacks.network) {
    ctx.addIssue({ code: 'custom', path: ['stacks', 'gateway'], message: 'the gateway runs in the kit\'s VPC; enable stacks.network too (it can reuse an existing VPC)' });
  }
  if (c.stacks?.vllmEc2 && Array.isArray(c.modelStore?.repositories) && !c.modelStore.repositories.includes('vllm')) {
    ctx.addIssue({ code: 'custom', path: ['modelStore', 'repositories'], message: 'must include "vllm" while stacks.vllmEc2 is on: the instances pull the vLLM image from it' });
  }
  const door = c.gateway?.streamingDoor;
  if (door?.enabled && c.stacks?.gateway) {
    if (!c.stacks.modelStore) ctx.addIssue({ code: 'custom', path: ['gateway', 'streamingDoor', 'enabled'], message: 'needs stacks.modelStore: its base image and access logs live there' });
    if (Array.isArray(c.modelStore?.repositories) && !c.modelStore.repositories.includes('node')) {
      ctx.addIssue({ code: 'custom', path: ['modelStore', 'repositories'], message: 'must include "node" while gateway.streamingDoor is on: its image is built on the mirrored Node.js base' });
    }
    if (typeof door.minTasks === 'number' && typeof door.maxTasks === 'number' && door.minTasks > door.maxTasks) {
      ctx.addIssue({ code: 'custom', path: ['gateway', 'streamingDoor', 'minTasks'], message: `must not exceed maxTasks (${door.maxTasks})` });
    }
  }
  if (c.stacks?.vllmEks) {
    const needed = ['vllm', 'awscli', ...(c.vllmEks?.gpuAmi === 'AL2023' ? ['deviceplugin'] : [])];
    const repos = Array.isArray(c.modelStore?.repositories) ? c.modelStore.repositories : [];
    const missing = needed.filter((r) => !repos.includes(r));
    if (missing.length > 0) ctx.addIssue({ code: 'custom', path: ['modelStore', 'repositories'], message: `must include ${missing.map((m) => `"${m}"`).join(', ')} while stacks.vllmEks is on: EKS pods pull these from the private ECR` });
    if (c.vllmEks?.endpointAccess === 'PUBLIC_AND_PRIVATE' && Array.isArray(c.vllmEks.publicAccessCidrs) && c.vllmEks.publicAccessCidrs.length === 0) {
      ctx.addIssue({ code: 'custom', path: ['vllmEks', 'publicAccessCidrs'], message: 'must list the CIDRs allowed to reach the public API endpoint (an open endpoint is not allowed)' });
    }
  }
  if (c.routing && Array.isArray(c.routing.providers) && Array.isArray(c.bedrock?.models) && Array.isArray(c.models)) {
    const aliases = routedAliases(c);
    for (const [alias, next] of Object.entries(c.routing.fallbacks ?? {})) {
      for (const name of [alias, ...(Array.isArray(next) ? next : [])]) {
        if (!aliases.has(name)) ctx.addIssue({ code: 'custom', path: ['routing', 'fallbacks', alias], message: `names "${name}", which no route serves; routed models are ${[...aliases].join(', ')}` });
      }
    }
    // A fallback must do what the model does: the gateway skips one of another kind (an embedding model cannot answer a chat).
    const kinds = new Map<string, string>([
      ...c.bedrock.models.map((m): [string, string] => (typeof m === 'string' ? [m, BEDROCK_CATALOG[m]?.kind ?? 'chat'] : [m?.alias, m?.kind ?? 'chat'])),
      ...c.routing.providers.flatMap((p) => (Array.isArray(p?.models) ? p.models.map((m): [string, string] => [m?.alias, m?.kind ?? 'chat']) : [])),
      ...(c.routing.registerVllm
        ? c.models.flatMap((m) =>
            selfHostedRoutes([m?.servedName], { ec2: !!c.stacks?.vllmEc2, eks: !!c.stacks?.vllmEks }).map((r): [string, string] => [r.alias, modelKindOfTask(m?.task ?? 'generate')]),
          )
        : []),
    ]);
    for (const [alias, next] of Object.entries(c.routing.fallbacks ?? {})) {
      for (const name of Array.isArray(next) ? next : []) {
        const [want, got] = [kinds.get(alias), kinds.get(name)];
        if (want && got && want !== got) ctx.addIssue({ code: 'custom', path: ['routing', 'fallbacks', alias], message: `names "${name}" (kind ${got}) as the fallback of "${alias}" (kind ${want}); list only ${want} models` });
      }
    }
  }
  if (c.gateway?.endpointType === 'PRIVATE' && c.network?.existingVpc?.createEndpoints === false) {
    ctx.addIssue({
      code: 'custom',
      path: ['gateway', 'endpointType'],
      message: 'PRIVATE needs an execute-api VPC endpoint, which the kit creates with the others; set network.existingVpc.createEndpoints to true or use REGIONAL',
    });
  }
  if (c.gateway?.authorization === 'API_KEY' && !c.gateway.icpLicence) {
    ctx.addIssue({
      code: 'custom',
      path: ['gateway', 'icpLicence'],
      message: 'is required with gateway.authorization API_KEY: API Gateway in China serves requests that are not IAM-authorized only for ICP-licensed accounts; set your licence number or use IAM',
    });
  }
  if (Array.isArray(c.bedrock?.models)) {
    const aliases = c.bedrock.models.map((m) => (typeof m === 'string' ? m : m?.alias));
    aliases.forEach((alias, i) => {
      if (aliases.indexOf(alias) !== i) ctx.addIssue({ code: 'custom', path: ['bedrock', 'models', i], message: 'repeats a model alias; list each model once' });
    });
  }
  const tls = c.internalTls;
  if (tls) {
    const certificates = [
      { path: ['vllmEc2', 'certificateArn'], arn: c.vllmEc2?.certificateArn, used: !!c.stacks?.vllmEc2 },
      { path: ['gateway', 'streamingDoor', 'certificateArn'], arn: c.gateway?.streamingDoor?.certificateArn, used: !!(c.stacks?.gateway && c.gateway?.streamingDoor?.enabled) },
    ];
    const mode = effectiveTlsMode(tls.mode, certificates.some((x) => x.arn));
    for (const cert of certificates) {
      if (mode === 'certificate' && cert.used && !cert.arn) {
        ctx.addIssue({ code: 'custom', path: cert.path, message: `is required with internalTls.mode certificate${tls.mode ? '' : ' (chosen because another certificateArn is set)'}: an ACM certificate covering the load balancer's name in internalTls.domain; or set internalTls.mode to private-ca` });
      }
      if (mode !== 'certificate' && cert.arn) {
        ctx.addIssue({ code: 'custom', path: cert.path, message: `is used only with internalTls.mode certificate (the mode is ${mode}); remove it or set internalTls.mode to certificate` });
      }
    }
    if (mode !== 'plain-http' && c.stacks?.vllmEc2) {
      const labels = served.map((name) => (typeof name === 'string' ? privateDnsLabel(name) : name));
      labels.forEach((label, i) => {
        if (labels.indexOf(label) !== i && served.indexOf(served[i]) === i) {
          ctx.addIssue({ code: 'custom', path: ['models', i, 'servedName'], message: `gets the same private name (${label}.<internalTls.domain>) as another model: "." and "_" become "-" in DNS names; rename one` });
        }
      });
    }
    if (tls.certificateAuthorityArn && mode !== 'private-ca') {
      ctx.addIssue({ code: 'custom', path: ['internalTls', 'certificateAuthorityArn'], message: `is used only with internalTls.mode private-ca (the mode is ${mode}); remove it or set the mode to private-ca` });
    }
  }
  for (const key of Object.keys(c.tags ?? {})) {
    if (key.toLowerCase().startsWith('aws:')) {
      ctx.addIssue({ code: 'custom', path: ['tags', key], message: 'tag keys starting with "aws:" are reserved by AWS; rename the tag' });
    }
  }
  checkAgents(c, ctx);
  checkDistill(c, ctx);
}

/** The Agents stack: what it builds on, and agents that call models the gateway routes. */
function checkAgents(c: KitSections, ctx: z.RefinementCtx): void {
  const agents = c.agents;
  if (!c.stacks?.agents || !agents) return;
  const missing = (['network', 'gateway', 'modelStore'] as const).filter((s) => !c.stacks[s]);
  if (missing.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['stacks', 'agents'], message: `agents run in the kit's VPC, call models through its gateway and build their image on the model store's Node.js base; enable ${missing.map((s) => `stacks.${s}`).join(', ')} too` });
  }
  if (Array.isArray(c.modelStore?.repositories) && !c.modelStore.repositories.includes('node')) {
    ctx.addIssue({ code: 'custom', path: ['modelStore', 'repositories'], message: 'must include "node" while stacks.agents is on: the agent image is built on the mirrored Node.js base (agents.baseImage)' });
  }
  const routed = routedAliases(c);
  const agentModels: [PropertyKey[], unknown][] = [
    [['agents', 'supervisor', 'model'], agents.supervisor?.model],
    ...(Array.isArray(agents.collaborators) ? agents.collaborators.map((a, i): [PropertyKey[], unknown] => [['agents', 'collaborators', i, 'model'], a?.model]) : []),
  ];
  for (const [path, model] of agentModels) {
    if (typeof model === 'string' && !routed.has(model)) {
      ctx.addIssue({ code: 'custom', path, message: `names "${model}", which no gateway route serves; use one of ${[...routed].join(', ')} or add the route (bedrock.models, routing.providers, models)` });
    }
  }
  const names = [agents.supervisor?.name, ...(Array.isArray(agents.collaborators) ? agents.collaborators.map((a) => a?.name) : [])];
  names.forEach((name, i) => {
    if (i > 0 && names.indexOf(name) !== i) {
      const path = names[0] === name ? ['agents', 'supervisor', 'name'] : ['agents', 'collaborators', i - 1, 'name'];
      ctx.addIssue({ code: 'custom', path, message: `"${name}" names two agents; give every agent its own name (it is the agent's identity at the gateway)` });
    }
  });
  if (c.gateway?.authorization === 'API_KEY') {
    ctx.addIssue({ code: 'custom', path: ['gateway', 'authorization'], message: 'must be IAM while stacks.agents is on: each agent calls the gateway as its own IAM role (SigV4), which an API_KEY gateway refuses' });
  }
  if (agents.egress === 'vpc-only' && c.gateway?.endpointType !== 'PRIVATE') {
    ctx.addIssue({ code: 'custom', path: ['agents', 'egress'], message: 'vpc-only cannot reach a REGIONAL gateway API (its endpoint is public): set gateway.endpointType to PRIVATE or agents.egress to https-through-nat' });
  }
  const certificate = agents.fargate?.certificateArn;
  const tlsMode = effectiveTlsMode(c.internalTls?.mode, !!(c.vllmEc2?.certificateArn || c.gateway?.streamingDoor?.certificateArn));
  if (agents.platform === 'fargate' && tlsMode === 'certificate' && !certificate) {
    ctx.addIssue({ code: 'custom', path: ['agents', 'fargate', 'certificateArn'], message: 'is required with internalTls.mode certificate: an ACM certificate covering agents.<internalTls.domain>; or set internalTls.mode to private-ca' });
  }
  if (certificate && (agents.platform !== 'fargate' || tlsMode !== 'certificate')) {
    ctx.addIssue({ code: 'custom', path: ['agents', 'fargate', 'certificateArn'], message: `is used only with agents.platform fargate and internalTls.mode certificate (they are ${agents.platform} and ${tlsMode}); remove it` });
  }
  if (typeof agents.idleSessionTimeoutSeconds === 'number' && typeof agents.maxSessionLifetimeSeconds === 'number' && agents.idleSessionTimeoutSeconds > agents.maxSessionLifetimeSeconds) {
    ctx.addIssue({ code: 'custom', path: ['agents', 'idleSessionTimeoutSeconds'], message: `must not exceed agents.maxSessionLifetimeSeconds (${agents.maxSessionLifetimeSeconds})` });
  }
}

/** Quota checks (lib/config/schema/quotas.ts): money budgets and their prices, the default group's place. */
function checkQuotas(c: KitSections, ctx: z.RefinementCtx): void {
  for (const problem of quotaProblems(c.quotas)) ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
}
