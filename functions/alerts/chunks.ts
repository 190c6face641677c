/**
 * How a large topic's recipients are split (docs/architecture.md, "Large topics"). Its own module,
 * free of imports, because the description reads it too.
 */

/** An alert change to at most this many people is delivered by the stream fan-out itself. */
export const ALERT_INLINE_RECIPIENTS = 200;
/** Recipients in one chunk message: one deliver() call well inside the chunk function's timeout. */
export const ALERT_CHUNK_RECIPIENTS = 250;
/**
 * Sockets one chunk of connected members may carry (their ids ride in the message, about 20
 * bytes each): it bounds the message and the posts of one invocation when members hold many.
 */
export const ALERT_CHUNK_SOCKETS = 500;
/**
 * Message groups a tenant's chunks spread over, a user always in the same one (a hash of the user
 * id): chunks of different groups are delivered in parallel, those of one group in order.
 * Changing it reorders users between groups, so deploy a change while no chunks are queued.
 */
export const ALERT_CHUNK_GROUPS = 16;
/**
 * Chunk invocations at once (the trigger's maxConcurrency): one per message group, since a FIFO
 * queue never has two of one group in flight. With fewer, a group's connected members would wait
 * behind other groups' offline ones (docs/architecture.md, "Large topics").
 */
export const ALERT_CHUNK_CONCURRENCY = ALERT_CHUNK_GROUPS;
/** The chunk function's timeout: 250 recipients with critical email take a few seconds. */
export const ALERT_CHUNK_TIMEOUT_SECONDS = 60;
