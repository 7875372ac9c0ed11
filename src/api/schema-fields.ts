import { z } from 'zod';

/*
 * The fields and list shapes the response schemas share (service-schemas.ts and its neighbours).
 */

/** An RFC 3339 time. */
export const time = z.string().describe('RFC 3339 time');
/** An integer >= 0. */
export const count = z.int().min(0);
/** `{ items }`: a list answer. */
export const list = <T extends z.ZodType>(item: T) => z.strictObject({ items: z.array(item) });
/**
 * A list the watch can continue (Kubernetes' list resourceVersion): `revision` is the store revision
 * the list was read at, in the same synchronous step; `GET /v1/watch?fromRevision=<revision + 1>`
 * then delivers exactly the changes after it.
 */
export const watchableList = <T extends z.ZodType>(item: T) =>
  z.strictObject({ items: z.array(item), revision: z.number().int().nonnegative().describe('The store revision the list was read at: watch from revision + 1 to follow it without a gap.') });
