import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { exportFailedDeps } from '#functions/adapters/wiring';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import { markRunFailed, type FailedDeps } from '../failed';
import { parseRunMessage } from '../model';

/**
 * The exports DLQ's consumer: a message here ran out of retries (SQS redrive) or never reached
 * the queue (Scheduler's dead-letter config, which adds ERROR_MESSAGE). A failure here leaves the
 * message in the DLQ for the next try; the DLQ keeps it 14 days.
 */
export function makeHandler(deps: FailedDeps) {
  const processor = new BatchProcessor(EventType.SQS);
  const recordOne = async (record: SQSRecord): Promise<void> => {
    const parsed = parseRunMessage(record.body);
    if ('problem' in parsed) {
      logger.error('Malformed message in the exports DLQ dropped', { messageId: record.messageId, error: parsed.problem });
      return;
    }
    try {
      const outcome = await markRunFailed(deps, parsed.message, record.messageAttributes?.ERROR_MESSAGE?.stringValue);
      if (outcome === 'failed') countMetric('ExportRunsFailed');
    } catch (error) {
      logger.error('Could not record a failed export run', { messageId: record.messageId, error: error as Error });
      throw error;
    }
  };
  return instrument((event: SQSEvent, context: Context) =>
    processPartialResponse(event, recordOne, processor, { context, processInParallel: false, throwOnFullBatchFailure: false }),
  );
}

export const handler = makeHandler(exportFailedDeps());
