/**
 * How a large topic's recipients are split (docs/architecture.md, "Large topics"). Its own module,
 * free of imports, because the description reads it too.
 */

/** An alert change to at most this many people is delivered by the stream fan-out itself. */
export const ALERT_INLINE_RECIPIENTS = 200;
/** Recipients in one chunk message: one deliver() call well inside the chunk function's timeout. */
export const ALERT_CHUNK_RECIPIENTS = 250;
/**
 * Message groups a tenant's chunks spread over, a user always in the same one (a hash of the user
 * id): chunks of different groups are delivered in parallel, those of one group in order.
 * Changing it reorders users between groups, so deploy a change while no chunks are queued.
 */
export const ALERT_CHUNK_GROUPS = 16;
/** The chunk function's timeout: 250 recipients with critical email take a few seconds. */
export const ALERT_CHUNK_TIMEOUT_SECONDS = 60;
