/**
 * PLACEHOLDER, replaced at merge by wp-agents' runtime/agents/server.ts (the agent server).
 * Here only so the Agents stack's image has an entry on the wp-agentsinfra branch; it implements
 * the AgentCore Runtime HTTP contract's shape (port 8080, GET /ping, POST /invocations) and no agents.
 */
import * as http from 'http';

const server = http.createServer((req, res) => {
  const send = (status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.method === 'GET' && req.url === '/ping') return send(200, { status: 'Healthy' });
  if (req.method === 'POST' && req.url === '/invocations') return send(501, { error: { message: 'placeholder agent server: replaced by wp-agents at merge', type: 'not_implemented', param: null, code: 'placeholder' } });
  send(404, { error: { message: 'not found', type: 'invalid_request_error', param: null, code: 'not_found' } });
});
server.listen(8080);
