/**
 * What the local tools read: a week of usage ledger records (as the ledger writes them,
 * `ledger/dt=YYYY-MM-DD/*.jsonl`) and a few team documents (`docs/`).
 */
export function demoLedger(today: string): { key: string; body: string }[] {
  const teams = [
    { group: 'search', model: 'qwen-max', base: 42000 },
    { group: 'search', model: 'nova-lite', base: 9000 },
    { group: 'support', model: 'qwen-plus', base: 18000 },
    { group: 'default', model: 'nova-micro', base: 3000 },
  ];
  const days = Array.from({ length: 7 }, (_, i) => new Date(Date.parse(`${today}T00:00:00Z`) - (6 - i) * 86400000).toISOString().slice(0, 10));
  return days.map((day, d) => ({
    key: `ledger/dt=${day}/usage-${day}.jsonl`,
    body: teams
      .flatMap((t, i) =>
        // Fixed figures (no randomness): the same question gets the same sums.
        Array.from({ length: 3 }, (_, n) => ({
          timestamp: `${day}T0${n + 1}:00:00Z`,
          requestId: `demo-${day}-${i}-${n}`,
          identity: `arn:aws-cn:iam::111122223333:role/${t.group}`,
          group: t.group,
          model: t.model,
          inputTokens: t.base + 100 * d + 10 * n,
          outputTokens: Math.round(t.base / 8) + 7 * n,
          cost: { amount: Math.round((t.base / 1e6) * 2.4 * 1e6) / 1e6, currency: 'CNY' },
          crossBorder: t.model.startsWith('nova'),
        })),
      )
      .map((r) => JSON.stringify(r))
      .join('\n'),
  }));
}

export const DEMO_DOCS: { key: string; body: string }[] = [
  {
    key: 'docs/residency.md',
    body: '# Data residency\n\nSet routing.residency to china-only and the gateway refuses every cross-border route (Bedrock in us-east-1, providers marked crossBorder) with 403 residency_violation: no request leaves mainland China. Callers can ask for it per request with the header x-cnllm-residency: china-only.\n',
  },
  {
    key: 'docs/streaming.md',
    body: '# Streaming in China\n\nLambda response streaming is not available in the China regions: the REST API delivers a stream as one body at the end. For token-by-token streams use the in-VPC streaming door (gateway.streamingDoor.enabled).\n',
  },
  {
    key: 'docs/quotas.md',
    body: '# Quotas and budgets\n\nEach team (group) has a monthly token budget; the usage ledger records every settled request with its tokens and cost, day by day.\n',
  },
  { key: 'docs/faq.json', body: JSON.stringify([{ title: '跨境数据', text: '跨境调用 Bedrock 会把数据传出中国大陆：需要遵守个人信息保护法；china-only 模式会拒绝这些路由。' }]) },
];
