import { exportWorkerDeps } from '#functions/adapters/wiring';
import { countMetric } from '#functions/shared/instrumentation';
import { runExport, type WorkerDeps } from '../worker';
import { runMessageConsumer } from './run-message-consumer';

/**
 * The exports queue's consumer (batch size 1, ReportBatchItemFailures). A failed run reports its
 * message as failed, so SQS retries it after the visibility timeout and, after maxReceiveCount,
 * moves it to the DLQ, whose handler marks the run failed (failed.ts).
 */
export function makeHandler(deps: WorkerDeps) {
  return runMessageConsumer({ malformed: 'Malformed export message dropped', failed: 'Export run attempt failed' }, async (message, record) => {
    try {
      countMetric(`ExportRuns_${await runExport(deps, message, record.messageId)}`);
    } catch (error) {
      countMetric('ExportAttemptsFailed');
      throw error;
    }
  });
}

export const handler = makeHandler(await exportWorkerDeps());
