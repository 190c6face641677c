import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { fanoutDeps } from '#functions/adapters/wiring';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import { handleInStreamOrder } from '#functions/shared/stream-batch';
import { fanOutAlertChange, type FanoutDeps } from '../fanout';
import { storedAlertSchema, type Alert } from '../model';

/**
 * The Alerts stream's consumer (lib/description/), record by record in stream order, so one
 * alert's versions arrive in order; a failure retries or bisects (functions/shared/stream-batch.ts).
 */
export function makeHandler(deps: FanoutDeps) {
  return instrument(
    async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> =>
      handleInStreamOrder(
        event,
        async (record) => {
          const alert = changedAlert(record);
          if (alert === undefined) return;
          const result = await fanOutAlertChange(deps, alert);
          countMetric('AlertChangesFannedOut');
          logger.info('Alert change fanned out', { alertId: alert.id, version: alert.version, change: alert.change, ...result });
        },
        { message: 'Alert fan-out failed', metric: 'AlertFanoutFailures' },
      ),
  );
}

/** The alert a record makes, or undefined when its version did not change (nothing to tell). */
function changedAlert(record: DynamoDBRecord): Alert | undefined {
  const image = record.dynamodb?.NewImage;
  if (image === undefined) return undefined;
  const alert = storedAlertSchema.parse(unmarshall(image as Record<string, SdkAttributeValue>)) as Alert;
  const old = record.dynamodb?.OldImage;
  if (old !== undefined && unmarshall(old as Record<string, SdkAttributeValue>).version === alert.version) return undefined;
  return alert;
}

export const handler = makeHandler(fanoutDeps());
