import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { alertDeliveryDeps } from '#functions/adapters/wiring';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import * as z from '#functions/shared/validation';
import { deliverAlertChunk, type AlertDeliveryDeps } from '../fanout';
import { storedAlertSchema, type Alert } from '../model';

/** A chunk message as the fan-out sends it (functions/adapters/sqs-alert-chunks.ts). */
const chunkMessageSchema = z.object({
  alert: storedAlertSchema,
  recipients: z.array(z.string().check(z.minLength(1))),
  // Absent from chunks queued before the fan-out read sockets: deliver() then reads them itself.
  connections: z.optional(z.record(z.string(), z.array(z.string().check(z.minLength(1))))),
});

/**
 * The alert chunk queue's consumer (FIFO, ReportBatchItemFailures). A chunk that fails is
 * reported failed together with the later chunks of its message group (Powertools' FIFO
 * processor), so a user's alert changes are never delivered out of order; other groups go on.
 * SQS retries it after the visibility timeout and, after maxReceiveCount, moves it to the DLQ.
 * A malformed chunk fails the same way and ends in the DLQ: the alert change it carries must not
 * be dropped silently. Redelivery is safe: deliver() dedupes, emails are claimed.
 */
export function makeHandler(deps: AlertDeliveryDeps) {
  const processor = new SqsFifoPartialProcessorAsync();
  const deliverOne = async (record: SQSRecord): Promise<void> => {
    try {
      const chunk = chunkMessageSchema.parse(JSON.parse(record.body)) as { alert: Alert; recipients: string[]; connections?: Record<string, string[]> };
      const result = await deliverAlertChunk(deps, chunk);
      countMetric('AlertChunksDelivered');
      logger.info('Alert chunk delivered', { alertId: chunk.alert.id, version: chunk.alert.version, messageId: record.messageId, ...result });
    } catch (error) {
      countMetric('AlertChunkFailures');
      logger.error('Alert chunk failed', {
        messageId: record.messageId,
        messageGroupId: record.attributes.MessageGroupId,
        error: error instanceof z.core.$ZodError ? z.describeIssues(error) : (error as Error),
      });
      throw error;
    }
  };
  return instrument((event: SQSEvent, context: Context) =>
    processPartialResponse(event, deliverOne, processor, { context, skipGroupOnError: true, throwOnFullBatchFailure: false }),
  );
}

export const handler = makeHandler(alertDeliveryDeps());
