import { exportFailedDeps } from '#functions/adapters/wiring';
import { countMetric } from '#functions/shared/instrumentation';
import { markRunFailed, type FailedDeps } from '../failed';
import { runMessageConsumer } from './run-message-consumer';

/**
 * The exports DLQ's consumer: a message here ran out of retries (SQS redrive) or never reached
 * the queue (Scheduler's dead-letter config, which adds ERROR_MESSAGE). A failure here leaves the
 * message in the DLQ for the next try; the DLQ keeps it 14 days.
 */
export function makeHandler(deps: FailedDeps) {
  return runMessageConsumer(
    { malformed: 'Malformed message in the exports DLQ dropped', failed: 'Could not record a failed export run' },
    async (message, record) => {
      if ((await markRunFailed(deps, message, record.messageAttributes?.ERROR_MESSAGE?.stringValue)) === 'failed') countMetric('ExportRunsFailed');
    },
  );
}

export const handler = makeHandler(exportFailedDeps());
