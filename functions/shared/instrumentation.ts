import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { Tracer } from '@aws-lambda-powertools/tracer';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
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

/** The one instrumentation style for every entry: tracing, structured logs with context, metrics. */
export function instrument<TEvent, TResult>(handler: (event: TEvent, context: Context) => Promise<TResult>) {
  return middy(handler)
    .use(captureLambdaHandler(tracer, { captureResponse: false }))
    .use(injectLambdaContext(logger))
    .use(logMetrics(metrics));
}
