/**
 * The worker's timeout, and a run's lease: a 1M-row export streams in a few minutes; Lambda allows
 * 15. Its own module, free of imports, because the description reads it too.
 */
export const EXPORT_WORKER_TIMEOUT_SECONDS = 300;
