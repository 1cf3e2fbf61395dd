import { z } from 'zod';

/** The container's own settings (no secrets), passed by the stack as one JSON environment variable. */
export const SERVER_CONFIG_ENV = 'CNLLM_SERVER_CONFIG';

export const ServerConfigSchema = z.object({
  port: z.number().int().default(8080),
  region: z.string(),
  apiKeyTable: z.string().optional(),
  apiKeyCacheSeconds: z.number().int().min(0).default(30),
  /** Longest wait for one key lookup attempt in DynamoDB (two attempts), then 503 auth_unavailable. @default 2000 */
  apiKeyLookupTimeoutMs: z.number().int().min(100).default(2000),
  sts: z
    .object({
      audience: z.string(),
      allowedAccounts: z.array(z.string()).default([]),
      endpoints: z.array(z.string()).min(1),
      /** Longest wait for STS to vouch for a token; past it the caller gets 503 auth_unavailable (a slow STS must not hang every request). @default 5000 */
      timeoutMs: z.number().int().min(100).default(5000),
    })
    .optional(),
  /** Longest time to receive a whole request (headers and body); response streams may run longer. @default 60 */
  requestTimeoutSeconds: z.number().int().min(1).default(60),
  drainSeconds: z.number().int().min(0).default(100),
  /** Idle keep-alive connections stay open this long: past the load balancer's idle timeout, so that it always closes first. @default 65 */
  keepAliveTimeoutSeconds: z.number().int().min(1).default(65),
  /**
   * Quiet seconds (nothing in flight) after which a burst's heap growth is collected and returned to
   * the system; 0 leaves it to V8, which takes 10 to 20 s. Needs node --expose-gc (the image's CMD). @default 2
   */
  idleHeapReclaimSeconds: z.number().min(0).default(2),
});
