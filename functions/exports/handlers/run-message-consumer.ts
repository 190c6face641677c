import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { instrument, logger } from '#functions/shared/instrumentation';
import { parseRunMessage, type RunMessage } from '../model';

/**
 * An SQS consumer of run messages (the exports queue and its DLQ), on Powertools' BatchProcessor:
 * one message at a time; a malformed one dropped, loudly, as no retry can fix it; one whose
 * `handle` throws reported as failed, so SQS keeps it for the next try; a batch of failures
 * reported like any other rather than thrown.
 */
export function runMessageConsumer(
  what: { readonly malformed: string; readonly failed: string },
  handle: (message: RunMessage, record: SQSRecord) => Promise<void>,
) {
  const processor = new BatchProcessor(EventType.SQS);
  const consumeOne = async (record: SQSRecord): Promise<void> => {
    const parsed = parseRunMessage(record.body);
    if ('problem' in parsed) {
      logger.error(what.malformed, { messageId: record.messageId, error: parsed.problem });
      return;
    }
    try {
      await handle(parsed.message, record);
    } catch (error) {
      logger.error(what.failed, { messageId: record.messageId, scheduleId: parsed.message.scheduleId, error: error as Error });
      throw error;
    }
  };
  return instrument((event: SQSEvent, context: Context) =>
    processPartialResponse(event, consumeOne, processor, { context, processInParallel: false, throwOnFullBatchFailure: false }),
  );
}
