import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue as SdkAttributeValue } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { fanoutDeps } from '#functions/adapters/wiring';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import * as z from '#functions/shared/validation';
import { fanOutAlertChange, type FanoutDeps } from '../fanout';
import { storedAlertSchema, type Alert } from '../model';

/**
 * The Alerts stream's consumer (ReportBatchItemFailures, bisect on error, bounded retries and
 * record age, failure queue: lib/description/). Records go one at a time in stream order, so
 * one alert's versions arrive in order; the first failure ends the batch, and Lambda retries
 * from that record (a stream's checkpoint cannot skip it) or bisects (see below).
 */
export function makeHandler(deps: FanoutDeps) {
  return instrument(async (event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> => {
    for (const [index, record] of event.Records.entries()) {
      try {
        const alert = changedAlert(record);
        if (alert === undefined) continue;
        const result = await fanOutAlertChange(deps, alert);
        countMetric('AlertChangesFannedOut');
        logger.info('Alert change fanned out', { alertId: alert.id, version: alert.version, change: alert.change, ...result });
      } catch (error) {
        logger.error('Alert fan-out failed', {
          sequenceNumber: record.dynamodb?.SequenceNumber,
          error: error instanceof z.core.$ZodError ? z.describeIssues(error) : (error as Error),
        });
        countMetric('AlertFanoutFailures');
        // A partial failure retries from this record with everything after it, and when retries
        // run out they all go to the failure queue together. Failing a batch that starts with this
        // record makes Lambda bisect it instead, until a record that keeps failing is alone: only
        // it is given up on, and the records after it are delivered (those before are idempotent).
        if (index === 0 && event.Records.length > 1)
          throw new Error(`Record ${record.dynamodb?.SequenceNumber} failed first in a batch of ${event.Records.length}: bisecting`);
        return { batchItemFailures: [{ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' }] };
      }
    }
    return { batchItemFailures: [] };
  });
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
