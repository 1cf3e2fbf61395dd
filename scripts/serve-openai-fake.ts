/**
 * Serves the OpenAI-compatible stand-in in its own process for bench:gateway, so the upstream's
 * work does not share the measured process's event loop. Prints its URL, stops on SIGTERM.
 */
import { OpenAiUpstreamFake } from '../test/fakes/openai-upstream-fake';

void new OpenAiUpstreamFake('vllm', '').start().then((fake) => {
  process.stdout.write(`${fake.url}\n`);
  process.once('SIGTERM', () => void fake.stop().then(() => process.exit(0)));
});
