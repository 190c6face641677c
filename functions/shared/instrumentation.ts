import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import { AsyncLocalStorage } from 'node:async_hooks';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';

/** Created once per execution environment; service name and namespace come from POWERTOOLS_* env. */
export const logger = new Logger();
// With metrics disabled (the local runtime), Metrics' own warnings about empty flushes are noise:
// there, functions share one instance across concurrent invocations, which Lambda never does.
const metricsDisabled = process.env.POWERTOOLS_METRICS_DISABLED === 'true';
export const metrics = new Metrics(metricsDisabled ? { logger: { ...console, warn: () => undefined } } : {});
export const tracer = new Tracer();

/** Herald's metrics are all counts of events; this is the one way handlers record them. */
export function countMetric(name: string, count = 1): void {
  metrics.addMetric(name, MetricUnit.Count, count);
}

/** The running invocation's deadline, per invocation (the local runtime runs several in one process). */
const invocation = new AsyncLocalStorage<{ readonly deadlineMs: number }>();

/**
 * When the invocation this code runs in will have been stopped by its timeout (epoch ms), or
 * undefined outside an instrumented handler. A dedupe claim's lease ends shortly after it.
 */
export function invocationDeadline(): number | undefined {
  return invocation.getStore()?.deadlineMs;
}

/** The one instrumentation style for every entry: tracing, structured logs with context, metrics, the deadline. */
export function instrument<TEvent, TResult>(handler: (event: TEvent, context: Context) => Promise<TResult>) {
  // A context without the method (a hand-made one in a test) means no deadline: the longest lease.
  const withDeadline = (event: TEvent, context: Context) =>
    typeof context?.getRemainingTimeInMillis === 'function'
      ? invocation.run({ deadlineMs: Date.now() + context.getRemainingTimeInMillis() }, () => handler(event, context))
      : handler(event, context);
  // No early timeout (middy's default throws 5 ms before the deadline): Lambda would then see an
  // error, not a timeout, and freeze the environment with deliver()'s unsent puts pending, to send
  // them when it next thaws, after their dedupe leases have ended (docs/protocol.md, "Dedupe
  // claims"). At the timeout itself Lambda resets the environment, and pending work dies with it.
  return middy(withDeadline, { timeoutEarlyInMillis: 0 })
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}
