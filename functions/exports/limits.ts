/**
 * The worker's timeout, and a run's lease: a 1M-row export streams in a few minutes; Lambda allows
 * 15. Its own module, free of imports, because the description reads it too.
 */
export const EXPORT_WORKER_TIMEOUT_SECONDS = 300;

/**
 * Export runs at once, deployment-wide (the worker's SQS ScalingConfig.MaximumConcurrency): each
 * holds up to 32 MB of upload buffers, reads DynamoDB pages as fast as it can and sends through the
 * account's SES rate, so a burst of firings (every schedule at 09:00 Monday) queues instead.
 */
export const EXPORT_WORKER_MAX_CONCURRENCY = 5;

/**
 * Quotas per user (docs/exports.md, "Limits"): each export emails tenant data through the
 * deployment's SES identity, so one user must not be able to run it without bound.
 */
export const EXPORT_QUOTAS = {
  /** Export schedules one user may own at once. */
  schedulesPerUser: 25,
  /** Runs one user may start by hand (run now) in a minute. */
  runsNowPerMinute: 5,
} as const;
