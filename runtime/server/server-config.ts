import { z } from 'zod';

/** The container's own settings (no secrets), passed by the stack as one JSON environment variable. */
export const SERVER_CONFIG_ENV = 'CNLLM_SERVER_CONFIG';

export const ServerConfigSchema = z.object({
  port: z.number().int().default(8080),
  region: z.string(),
  apiKeyTable: z.string().optional(),
  apiKeyCacheSeconds: z.number().int().min(0).default(30),
  sts: z.object({ audience: z.string(), allowedAccounts: z.array(z.string()).default([]), endpoints: z.array(z.string()).min(1) }).optional(),
  drainSeconds: z.number().int().min(0).default(100),
});
