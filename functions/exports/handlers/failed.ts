import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { exportFailedDeps } from '../../adapters/wiring';
import { countMetric, instrument, logger } from '../../shared/instrumentation';
import { markRunFailed, type FailedDeps } from '../failed';
import { runMessageSchema } from '../model';

/**
 * The exports DLQ's consumer: a message here ran out of retries (SQS redrive) or never reached
 * the queue (Scheduler's dead-letter config, which adds ERROR_MESSAGE). A failure here leaves the
 * message in the DLQ for the next try; the DLQ keeps it 14 days.
 */
export function makeHandler(deps: FailedDeps) {
  return instrument(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      const parsed = runMessageSchema.safeParse(safeJson(record.body));
      if (!parsed.success) {
        logger.error('Malformed message in the exports DLQ dropped', { messageId: record.messageId });
        continue;
      }
      try {
        const outcome = await markRunFailed(deps, parsed.data, record.messageAttributes?.ERROR_MESSAGE?.stringValue);
        if (outcome === 'failed') countMetric('ExportRunsFailed');
      } catch (error) {
        logger.error('Could not record a failed export run', { messageId: record.messageId, error: error as Error });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export const handler = makeHandler(exportFailedDeps());
