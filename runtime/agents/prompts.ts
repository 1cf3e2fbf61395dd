import { AgentsConfig } from './agents-config';

/** The first line of the orchestration part of the supervisor's system prompt, per mode. */
export const SUPERVISOR_ROLE = 'You are the supervisor of a team of agents.';
export const ROUTER_ROLE = 'You are the router of a team of agents.';

/**
 * The supervisor's system prompt: the configured instructions, then how this mode works and who
 * the collaborators are (their tools carry the same descriptions).
 */
export function supervisorPrompt(config: AgentsConfig): string {
  const team = config.collaborators.map((c) => `- ${c.name}: ${c.description}`).join('\n');
  const orchestration =
    config.mode === 'supervisor'
      ? `${SUPERVISOR_ROLE} Plan how to answer the request, delegate its parts to the collaborators by calling their tools (in one turn when the parts are independent), then write the final answer from what they returned. If a collaborator fails or returns an error, say so in the final answer, naming the collaborator and the error, and answer with what the others returned.`
      : `${ROUTER_ROLE} Decide which single collaborator should handle the request and hand it over by calling that collaborator's tool, exactly once, with the request as its input: its answer goes to the user as it is. If that collaborator fails, answer with one short message naming the collaborator and the error.`;
  return `${config.supervisor.instructions}\n\n${orchestration}\n\nCollaborators:\n${team}`;
}
