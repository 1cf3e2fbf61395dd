import { Agent, ExecuteToolStage, TextBlock, ToolResultBlock } from '@strands-agents/sdk';

export interface ToolTimeLimit {
  readonly ms: number;
  /** Stops the work that overran (a collaborator agent is cancelled: its model call is aborted). */
  readonly onTimeout?: () => void;
}

/**
 * Bounds every tool call of an agent (a delegation to a collaborator or an MCP tool): past its limit
 * the call ends with an error result the agent's model reads and reports, instead of waiting on a
 * collaborator or tool that hangs. A Strands middleware, so delegation semantics (routing's
 * `delegate` tools) stay the framework's.
 */
export function limitToolTime(agent: Agent, limitFor: (toolName: string) => ToolTimeLimit): void {
  agent.addMiddleware(ExecuteToolStage, async function* (context, next) {
    const limit = limitFor(context.toolUse.name);
    const inner = next(context);
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<'overrun'>((resolve) => {
      timer = setTimeout(() => resolve('overrun'), limit.ms);
    });
    try {
      for (;;) {
        const step = await Promise.race([inner.next(), overrun]);
        if (step === 'overrun') {
          limit.onTimeout?.();
          // The abandoned call winds down on its own (its cancellation is under way); not awaited.
          void inner.return(undefined as never).catch(() => undefined);
          const seconds = Math.round(limit.ms / 100) / 10;
          return { result: new ToolResultBlock({ toolUseId: context.toolUse.toolUseId, status: 'error', content: [new TextBlock(`Error: ${context.toolUse.name} did not finish within ${seconds} s (timed out)`)] }) };
        }
        if (step.done) return step.value;
        yield step.value;
      }
    } finally {
      clearTimeout(timer);
    }
  });
}
