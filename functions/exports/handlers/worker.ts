import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { exportWorkerDeps } from '../../adapters/wiring';
import { countMetric, instrument, logger } from '../../shared/instrumentation';
import * as z from '../../shared/validation';
import { runMessageSchema } from '../model';
import { runExport, type WorkerDeps } from '../worker';

/**
 * The exports queue's consumer (batch size 1, ReportBatchItemFailures). A failed run reports its
 * message as failed, so SQS retries it after the visibility timeout and, after maxReceiveCount,
 * moves it to the DLQ, whose handler marks the run failed (failed.ts).
 */
export function makeHandler(deps: WorkerDeps) {
  return instrument(async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      let message;
      try {
        message = runMessageSchema.parse(JSON.parse(record.body));
      } catch (error) {
        // Retrying cannot fix a malformed message: drop it, loudly.
        logger.error('Malformed export message dropped', { messageId: record.messageId, error: error instanceof z.core.$ZodError ? z.describeIssues(error) : String(error) });
        continue;
      }
      try {
        const outcome = await runExport(deps, message, record.messageId);
        countMetric(`ExportRuns_${outcome}`);
      } catch (error) {
        logger.error('Export run attempt failed', { messageId: record.messageId, scheduleId: message.scheduleId, error: error as Error });
        countMetric('ExportAttemptsFailed');
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
}

export const handler = makeHandler(await exportWorkerDeps());
