import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';
import { exportWorkerDeps } from '#functions/adapters/wiring';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import { parseRunMessage } from '../model';
import { runExport, type WorkerDeps } from '../worker';

/**
 * The exports queue's consumer (batch size 1, ReportBatchItemFailures). A failed run reports its
 * message as failed, so SQS retries it after the visibility timeout and, after maxReceiveCount,
 * moves it to the DLQ, whose handler marks the run failed (failed.ts).
 */
export function makeHandler(deps: WorkerDeps) {
  const processor = new BatchProcessor(EventType.SQS);
  const runOne = async (record: SQSRecord): Promise<void> => {
    const parsed = parseRunMessage(record.body);
    if ('problem' in parsed) {
      // Retrying cannot fix a malformed message: drop it, loudly.
      logger.error('Malformed export message dropped', { messageId: record.messageId, error: parsed.problem });
      return;
    }
    try {
      countMetric(`ExportRuns_${await runExport(deps, parsed.message, record.messageId)}`);
    } catch (error) {
      logger.error('Export run attempt failed', { messageId: record.messageId, scheduleId: parsed.message.scheduleId, error: error as Error });
      countMetric('ExportAttemptsFailed');
      throw error;
    }
  };
  // One run at a time, and a batch of failures reported like any other rather than thrown.
  return instrument((event: SQSEvent, context: Context) =>
    processPartialResponse(event, runOne, processor, { context, processInParallel: false, throwOnFullBatchFailure: false }),
  );
}

export const handler = makeHandler(await exportWorkerDeps());
