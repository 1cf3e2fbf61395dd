/**
 * CloudFormation custom resource handler (CDK Provider framework) that creates, updates and
 * deletes AgentCore runtimes, gateways and gateway targets through the control-plane API, and
 * waits until each is READY (or gone). It exists because the AWS::BedrockAgentCore::* types were
 * not in the China regions' CloudFormation registry (agents.platform agentcore-api).
 */
import {
  BedrockAgentCoreControlClient,
  CreateAgentRuntimeCommand,
  CreateGatewayCommand,
  CreateGatewayTargetCommand,
  DeleteAgentRuntimeCommand,
  DeleteGatewayCommand,
  DeleteGatewayTargetCommand,
  GetAgentRuntimeCommand,
  GetGatewayCommand,
  GetGatewayTargetCommand,
  UpdateAgentRuntimeCommand,
  UpdateGatewayCommand,
  UpdateGatewayTargetCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';

export type ResourceKind = 'Runtime' | 'Gateway' | 'GatewayTarget';

export interface ProvisionProperties {
  readonly Kind: ResourceKind;
  /** The control-plane request body as JSON (a string, so CloudFormation does not turn numbers into strings). */
  readonly Request: string;
  /** GatewayTarget only: the gateway it belongs to. */
  readonly GatewayId?: string;
}

export interface ProvisionEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly RequestId: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: ProvisionProperties & { ServiceToken?: string };
  readonly OldResourceProperties?: ProvisionProperties & { ServiceToken?: string };
}

export interface ProvisionResult {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
}

/** Seconds between status polls (tests shorten it). */
const pollMs = () => Number(process.env.CNLLM_PROVISION_POLL_MS ?? 5000);
/** Stop waiting this long before the Lambda's own deadline, so the failure reaches CloudFormation. */
const DEADLINE_MARGIN_MS = 20_000;

let client: BedrockAgentCoreControlClient | undefined;
const controlPlane = () => (client ??= new BedrockAgentCoreControlClient({ maxAttempts: 5 }));

export class ProvisionError extends Error {}

const isNotFound = (e: unknown) => (e as { name?: string }).name === 'ResourceNotFoundException';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `status` until it is `ready` (returns), a failure status (throws with the service's reason),
 * or `undefined` while waiting for deletion (returns). Throws before the Lambda times out.
 */
async function waitFor(what: string, poll: () => Promise<{ status?: string; reason?: string } | undefined>, ready: string | undefined, failed: readonly string[], context: LambdaContextLike): Promise<void> {
  for (;;) {
    const state = await poll();
    if (state?.status === ready || (ready === undefined && state === undefined)) return;
    if (state?.status && failed.includes(state.status)) throw new ProvisionError(`${what} is ${state.status}${state.reason ? `: ${state.reason}` : ''}`);
    if (context.getRemainingTimeInMillis() < DEADLINE_MARGIN_MS + pollMs()) {
      throw new ProvisionError(`${what} is still ${state?.status ?? 'present'}; gave up before the handler's deadline (it may finish later: check it in the AgentCore console, then retry the deploy)`);
    }
    await sleep(pollMs());
  }
}

/** Get that answers undefined once the resource is gone. */
async function unlessGone<T>(get: () => Promise<T>): Promise<T | undefined> {
  try {
    return await get();
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/**
 * Waits for a resource this request created; if it never becomes ready, deletes it (best effort)
 * so a failed create leaves nothing behind: CloudFormation never learns its id.
 */
async function settleCreated(wait: () => Promise<void>, remove: () => Promise<unknown>): Promise<void> {
  try {
    await wait();
  } catch (e) {
    await remove().catch(() => undefined);
    throw e;
  }
}

async function ignoreNotFound(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}

const parse = (props: ProvisionProperties): Record<string, any> => JSON.parse(props.Request);

/** A different name (or gateway, for targets) means a new resource: CloudFormation deletes the old one after the update. */
function replaces(event: ProvisionEvent): boolean {
  const before = event.OldResourceProperties;
  if (!before) return true;
  return parse(before).name !== parse(event.ResourceProperties).name || parse(before).agentRuntimeName !== parse(event.ResourceProperties).agentRuntimeName || before.GatewayId !== event.ResourceProperties.GatewayId;
}

async function runtime(event: ProvisionEvent, context: LambdaContextLike): Promise<ProvisionResult> {
  const cp = controlPlane();
  const get = (agentRuntimeId: string) => unlessGone(() => cp.send(new GetAgentRuntimeCommand({ agentRuntimeId })));
  const status = (id: string) => async () => {
    const r = await get(id);
    return r && { status: r.status, reason: r.failureReason };
  };
  const request = parse(event.ResourceProperties);
  if (event.RequestType === 'Delete') {
    const id = event.PhysicalResourceId!;
    await ignoreNotFound(() => cp.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: id })));
    await waitFor(`agent runtime ${id}`, status(id), undefined, ['DELETE_FAILED'], context);
    return { PhysicalResourceId: id };
  }
  let id: string;
  if (event.RequestType === 'Create' || replaces(event)) {
    const created = await cp.send(new CreateAgentRuntimeCommand({ ...(request as any), clientToken: event.RequestId }));
    const newId = (id = created.agentRuntimeId!);
    await settleCreated(() => waitFor(`agent runtime ${newId}`, status(newId), 'READY', ['CREATE_FAILED'], context), () => cp.send(new DeleteAgentRuntimeCommand({ agentRuntimeId: newId })));
  } else {
    id = event.PhysicalResourceId!;
    const { agentRuntimeName: _name, ...update } = request;
    await cp.send(new UpdateAgentRuntimeCommand({ ...(update as any), agentRuntimeId: id, clientToken: event.RequestId }));
    await waitFor(`agent runtime ${id}`, status(id), 'READY', ['UPDATE_FAILED'], context);
  }
  const ready = (await get(id))!;
  return { PhysicalResourceId: id, Data: { AgentRuntimeId: id, AgentRuntimeArn: ready.agentRuntimeArn!, AgentRuntimeVersion: ready.agentRuntimeVersion ?? '' } };
}

async function gateway(event: ProvisionEvent, context: LambdaContextLike): Promise<ProvisionResult> {
  const cp = controlPlane();
  const get = (gatewayIdentifier: string) => unlessGone(() => cp.send(new GetGatewayCommand({ gatewayIdentifier })));
  const status = (id: string) => async () => {
    const g = await get(id);
    return g && { status: g.status, reason: g.statusReasons?.join('; ') };
  };
  if (event.RequestType === 'Delete') {
    const id = event.PhysicalResourceId!;
    await ignoreNotFound(() => cp.send(new DeleteGatewayCommand({ gatewayIdentifier: id })));
    await waitFor(`gateway ${id}`, status(id), undefined, ['FAILED'], context);
    return { PhysicalResourceId: id };
  }
  const request = parse(event.ResourceProperties);
  let id: string;
  if (event.RequestType === 'Create' || replaces(event)) {
    const newId = (id = (await cp.send(new CreateGatewayCommand({ ...(request as any), clientToken: event.RequestId }))).gatewayId!);
    await settleCreated(() => waitFor(`gateway ${newId}`, status(newId), 'READY', ['FAILED'], context), () => cp.send(new DeleteGatewayCommand({ gatewayIdentifier: newId })));
  } else {
    id = event.PhysicalResourceId!;
    await cp.send(new UpdateGatewayCommand({ ...(request as any), gatewayIdentifier: id }));
    await waitFor(`gateway ${id}`, status(id), 'READY', ['FAILED', 'UPDATE_UNSUCCESSFUL'], context);
  }
  const ready = (await get(id))!;
  return { PhysicalResourceId: id, Data: { GatewayId: id, GatewayArn: ready.gatewayArn!, GatewayUrl: ready.gatewayUrl ?? '' } };
}

/** Targets are `<gatewayId>/<targetId>`: every call needs both. */
async function gatewayTarget(event: ProvisionEvent, context: LambdaContextLike): Promise<ProvisionResult> {
  const cp = controlPlane();
  const get = (gatewayIdentifier: string, targetId: string) => unlessGone(() => cp.send(new GetGatewayTargetCommand({ gatewayIdentifier, targetId })));
  const status = (gatewayId: string, targetId: string) => async () => {
    const t = await get(gatewayId, targetId);
    return t && { status: t.status, reason: t.statusReasons?.join('; ') };
  };
  if (event.RequestType === 'Delete') {
    const [gatewayId, targetId] = event.PhysicalResourceId!.split('/');
    if (!targetId) return { PhysicalResourceId: event.PhysicalResourceId! };
    await ignoreNotFound(() => cp.send(new DeleteGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId })));
    await waitFor(`gateway target ${targetId}`, status(gatewayId, targetId), undefined, ['FAILED'], context);
    return { PhysicalResourceId: event.PhysicalResourceId! };
  }
  const gatewayId = event.ResourceProperties.GatewayId;
  if (!gatewayId) throw new ProvisionError('GatewayTarget needs the GatewayId property');
  const request = parse(event.ResourceProperties);
  let targetId: string;
  if (event.RequestType === 'Create' || replaces(event)) {
    const newId = (targetId = (await cp.send(new CreateGatewayTargetCommand({ ...(request as any), gatewayIdentifier: gatewayId, clientToken: event.RequestId }))).targetId!);
    await settleCreated(() => waitFor(`gateway target ${newId}`, status(gatewayId, newId), 'READY', ['FAILED'], context), () => cp.send(new DeleteGatewayTargetCommand({ gatewayIdentifier: gatewayId, targetId: newId })));
  } else {
    targetId = event.PhysicalResourceId!.split('/')[1];
    await cp.send(new UpdateGatewayTargetCommand({ ...(request as any), gatewayIdentifier: gatewayId, targetId }));
    await waitFor(`gateway target ${targetId}`, status(gatewayId, targetId), 'READY', ['FAILED', 'UPDATE_UNSUCCESSFUL'], context);
  }
  return { PhysicalResourceId: `${gatewayId}/${targetId}`, Data: { TargetId: targetId } };
}

/** The ids this handler hands CloudFormation (control-plane API patterns): anything else was never created here. */
const OWN_ID: Record<ResourceKind, RegExp> = {
  Runtime: /^[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10}$/,
  Gateway: /^([0-9a-z][-]?){1,100}-[0-9a-z]{10}$/,
  GatewayTarget: /^([0-9a-z][-]?){1,100}-[0-9a-z]{10}\/[0-9a-zA-Z]{10}$/,
};

const KINDS: Record<ResourceKind, (event: ProvisionEvent, context: LambdaContextLike) => Promise<ProvisionResult>> = { Runtime: runtime, Gateway: gateway, GatewayTarget: gatewayTarget };

export async function handler(event: ProvisionEvent, context: LambdaContextLike): Promise<ProvisionResult> {
  const kind = KINDS[event.ResourceProperties.Kind];
  if (!kind) throw new ProvisionError(`unknown Kind "${event.ResourceProperties.Kind}"; expected ${Object.keys(KINDS).join(', ')}`);
  // A failed Create leaves CloudFormation a physical id of the framework's choosing: nothing of ours to delete.
  if (event.RequestType === 'Delete' && !OWN_ID[event.ResourceProperties.Kind].test(event.PhysicalResourceId ?? '')) return { PhysicalResourceId: event.PhysicalResourceId ?? event.RequestId };
  return kind(event, context);
}
