import { Duration } from 'aws-cdk-lib';
import type { Alarm } from 'aws-cdk-lib/aws-cloudwatch';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseCollectionDeclarations, type CollectionDeclarations } from '../../functions/records/collections';
import { functions } from '../description';
import { RUNBOOK } from './alarms';
import { describedStreamReadOptions, readStreamInto, streamFailureQueue, type StreamReadOptions } from './stream-source';
import { InvalidPropsError, requireInteger, withDefaults } from './support';

export interface RecordsSyncProps {
  /** The table records, their change counter, op answers and device rows live in (HeraldData's `records`); its stream feeds the assignment notifier. */
  readonly recordsTable: Table;
  /**
   * Collections and each field's merge strategy (docs/sync.md, "Declaring a collection").
   * @default none: every collection syncs with every field last-writer-wins
   */
  readonly collections?: CollectionDeclarations;
  /**
   * Days tombstones, op answers and device rows are kept; an older pull cursor answers `reset`.
   * @default 30
   */
  readonly retentionDays?: number;
  /**
   * SNS topic the assignment failure alarm notifies.
   * @default none: the alarm only changes state
   */
  readonly alarmTopic?: ITopic;
}

const DEFAULTS = { collections: {}, retentionDays: 30 } satisfies Partial<RecordsSyncProps>;
/** How the Records stream is read; the defaults are the notifyRecordAssignees trigger of lib/description/. */
const NOTIFY_DEFAULTS = describedStreamReadOptions(functions.notifyRecordAssignees.trigger);

/**
 * Offline-first records sync, apart from its HTTP functions: the records table it works on, the
 * deployment's collection declarations and retention (validated here, so a bad declaration fails
 * synth), and the durable assignment notifications: the table's stream mapped to the notifier,
 * the queue where the mapping records what it gave up on, and an alarm on each arrival there.
 * `HeraldFunctions` gives the sync functions these as settings and attaches them.
 */
export class RecordsSync extends Construct {
  public readonly recordsTable: Table;
  public readonly collections: CollectionDeclarations;
  public readonly retentionDays: number;
  /** Descriptions of stream records the assignment notifier gave up on. Nothing consumes it. */
  public readonly assignmentFailureQueue: Queue;
  /** Fires in each minute a record description arrives in the failure queue. */
  public readonly assignmentFailureAlarm: Alarm;
  private notifier?: LambdaFunction;

  constructor(scope: Construct, id: string, props: RecordsSyncProps) {
    super(scope, id);
    const merged = withDefaults(DEFAULTS, props);
    requireInteger(this, 'retentionDays', merged.retentionDays, 1, 365);
    const parsed = parseCollectionDeclarations(JSON.stringify(merged.collections));
    if (!parsed.ok) throw new InvalidPropsError(this, 'collections', `is not a valid declaration: ${parsed.problem}.`);
    if (merged.recordsTable.tableStreamArn === undefined) {
      throw new InvalidPropsError(this, 'recordsTable', `is ${merged.recordsTable.node.path}, which has no stream; assignment notifications read it.`);
    }
    this.recordsTable = merged.recordsTable;
    this.collections = parsed.value;
    this.retentionDays = merged.retentionDays;

    ({ queue: this.assignmentFailureQueue, alarm: this.assignmentFailureAlarm } = streamFailureQueue(
      this,
      { queue: 'AssignmentFailureQueue', alarm: 'AssignmentFailureAlarm' },
      {
        consumer: 'notifyRecordAssignees',
        givenUp: 'record versions',
        runbook: RUNBOOK.recordAssignmentFailures,
        retention: Duration.days(14),
        alarmTopic: merged.alarmTopic,
      },
    ));
    this.node.addValidation({
      validate: () => (this.notifier ? [] : ['RecordsSync has no assignment notifier: call notifyAssigneesWith(handler) so the Records stream is read.']),
    });
  }

  /** Maps the Records stream to `handler`, with partial batch responses and the failure queue as on-failure destination. */
  public notifyAssigneesWith(handler: LambdaFunction, options: Partial<StreamReadOptions> = {}): void {
    if (this.notifier) throw new InvalidPropsError(this, 'handler', `is ${this.notifier.node.path} already; the Records stream has one notifier.`);
    this.notifier = handler;
    readStreamInto(this, this.recordsTable, this.assignmentFailureQueue, handler, withDefaults(NOTIFY_DEFAULTS, options));
  }
}
