import { z } from 'zod';
import { list, time } from './schema-fields.js';

/*
 * zod mirrors of the access answers (response-schemas.ts says why): who a token is, grids, tokens and
 * secrets (never their values).
 */

const role = z.enum(['cluster-admin', 'admin', 'operator', 'viewer', 'node']);
export const GrantSchema = z.strictObject({ role, grid: z.string().optional() });
export const IdentitySchema = z.strictObject({
  kind: z.enum(['user', 'service', 'node']),
  subject: z.string(),
  grants: z.array(GrantSchema),
  service: z.strictObject({ grid: z.string(), name: z.string() }).optional(),
  tokenId: z.string().optional(),
  node: z.string().optional().describe('the node a node identity acts for'),
});
export const GridSchema = z.strictObject({ name: z.string(), createdAt: time, labels: z.record(z.string(), z.string()) });
export const GridListSchema = list(GridSchema);
export const TokenInfoSchema = z.strictObject({
  id: z.string(),
  name: z.string(),
  role,
  grid: z.string().optional(),
  createdAt: time,
  expiresAt: time.optional(),
  createdBy: z.string(),
});
export const TokenListSchema = list(TokenInfoSchema);
export const CreatedTokenSchema = TokenInfoSchema.extend({ token: z.string().describe('The bearer token; shown only in this answer.') });
export const SecretInfoSchema = z.strictObject({ grid: z.string(), name: z.string(), keys: z.array(z.string()), createdAt: time, updatedAt: time });
export const SecretListSchema = list(SecretInfoSchema);
