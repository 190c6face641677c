import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type AttributeDefinition,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { BucketAlreadyOwnedByYou, CreateBucketCommand, PutBucketLifecycleConfigurationCommand, type S3Client } from '@aws-sdk/client-s3';
import { LocalSetupError } from './emulators';
import {
  buckets,
  DEAD_LETTER_VISIBILITY_SECONDS,
  failureQueues,
  queues,
  tables,
  type BucketName,
  type FailureQueueName,
  type QueueName,
  type QueueSpec,
  type TableName,
  type TableSpec,
} from '../description';

/** Local physical names: stable, so a persisted .herald/ keeps working across restarts. */
export function localTableName(table: TableName): string {
  return `herald-${table}`;
}

export function localQueueName(queue: QueueName): string {
  // SQS wants a FIFO queue's name to end in .fifo.
  return `herald-${queue}${(queues[queue] as QueueSpec).fifo ? '.fifo' : ''}`;
}

/** A queue's DLQ: `<name>-dlq`, before the `.fifo` a FIFO queue's name ends in. */
export function localDeadLetterQueueName(queueName: string): string {
  return queueName.endsWith('.fifo') ? queueName.replace(/\.fifo$/, '-dlq.fifo') : `${queueName}-dlq`;
}

export function localBucketName(bucket: BucketName): string {
  return `herald-${bucket}`;
}

/**
 * Creates every bucket of the description in fauxqs, with the same lifecycle rules as the CDK
 * stack (`expiryDays` from the bucket's expiry setting); idempotent.
 */
export async function createBuckets(client: S3Client, expiryDays: (bucket: BucketName) => number): Promise<Record<BucketName, string>> {
  const names = {} as Record<BucketName, string>;
  for (const bucket of Object.keys(buckets) as BucketName[]) {
    const name = localBucketName(bucket);
    names[bucket] = name;
    try {
      await client.send(new CreateBucketCommand({ Bucket: name }));
    } catch (error) {
      if (!(error instanceof BucketAlreadyOwnedByYou) && (error as Error).name !== 'BucketAlreadyExists') throw error;
    }
    await client.send(
      new PutBucketLifecycleConfigurationCommand({
        Bucket: name,
        LifecycleConfiguration: {
          Rules: [
            { ID: 'expire', Status: 'Enabled', Filter: { Prefix: '' }, Expiration: { Days: expiryDays(bucket) } },
            { ID: 'abort-incomplete-uploads', Status: 'Enabled', Filter: { Prefix: '' }, AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 } },
          ],
        },
      }),
    );
  }
  return names;
}

/** Creates every table of the description (idempotent: existing tables are kept). */
export async function createTables(client: DynamoDBClient): Promise<Record<TableName, string>> {
  const names = {} as Record<TableName, string>;
  for (const [table, spec] of Object.entries(tables) as Array<[TableName, TableSpec]>) {
    const name = localTableName(table);
    names[table] = name;
    await createTable(client, name, spec);
  }
  return names;
}

export async function createTable(client: DynamoDBClient, name: string, spec: TableSpec): Promise<void> {
  const attributes = new Map<string, AttributeDefinition>();
  const keys = [
    spec.partitionKey,
    spec.sortKey,
    ...(spec.indexes ?? []).flatMap((index) => [index.partitionKey, index.sortKey]),
    ...(spec.localIndexes ?? []).map((index) => index.sortKey),
  ];
  for (const key of keys) if (key) attributes.set(key.name, { AttributeName: key.name, AttributeType: key.type });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [...attributes.values()],
        KeySchema: [
          { AttributeName: spec.partitionKey.name, KeyType: 'HASH' },
          ...(spec.sortKey ? [{ AttributeName: spec.sortKey.name, KeyType: 'RANGE' as const }] : []),
        ],
        GlobalSecondaryIndexes: spec.indexes?.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: index.partitionKey.name, KeyType: 'HASH' },
            ...(index.sortKey ? [{ AttributeName: index.sortKey.name, KeyType: 'RANGE' as const }] : []),
          ],
          Projection: { ProjectionType: 'ALL' },
        })),
        LocalSecondaryIndexes: spec.localIndexes?.map((index) => ({
          IndexName: index.name,
          KeySchema: [
            { AttributeName: spec.partitionKey.name, KeyType: 'HASH' },
            { AttributeName: index.sortKey.name, KeyType: 'RANGE' },
          ],
          Projection: index.include ? { ProjectionType: 'INCLUDE', NonKeyAttributes: [...index.include] } : { ProjectionType: 'KEYS_ONLY' },
        })),
        StreamSpecification: spec.stream ? { StreamEnabled: true, StreamViewType: spec.stream } : undefined,
      }),
    );
    if (spec.ttlAttribute) {
      await client.send(new UpdateTimeToLiveCommand({ TableName: name, TimeToLiveSpecification: { AttributeName: spec.ttlAttribute, Enabled: true } }));
    }
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
    await assertTableMatches(client, name, spec);
  }
}

/**
 * A table persisted under .herald/ by an older checkout may lack keys or indexes the description
 * now has; say so plainly rather than fail later inside a handler.
 */
async function assertTableMatches(client: DynamoDBClient, name: string, spec: TableSpec): Promise<void> {
  const { Table: table } = await client.send(new DescribeTableCommand({ TableName: name }));
  const keyOf = (schema: Array<{ AttributeName?: string; KeyType?: string }> | undefined) =>
    (schema ?? []).map((key) => `${key.AttributeName}:${key.KeyType}`).join(',');
  const wantedKeys = [`${spec.partitionKey.name}:HASH`, ...(spec.sortKey ? [`${spec.sortKey.name}:RANGE`] : [])].join(',');
  const problems: string[] = [];
  if (keyOf(table?.KeySchema) !== wantedKeys) problems.push(`keys ${keyOf(table?.KeySchema)} instead of ${wantedKeys}`);
  for (const index of spec.indexes ?? []) {
    const found = table?.GlobalSecondaryIndexes?.find((existing) => existing.IndexName === index.name);
    const wanted = [`${index.partitionKey.name}:HASH`, ...(index.sortKey ? [`${index.sortKey.name}:RANGE`] : [])].join(',');
    if (!found || keyOf(found.KeySchema) !== wanted) problems.push(`index ${index.name} missing or different`);
  }
  for (const index of spec.localIndexes ?? []) {
    const found = table?.LocalSecondaryIndexes?.find((existing) => existing.IndexName === index.name);
    const wanted = `${spec.partitionKey.name}:HASH,${index.sortKey.name}:RANGE`;
    if (!found || keyOf(found.KeySchema) !== wanted) problems.push(`local index ${index.name} missing or different`);
  }
  if (Boolean(spec.stream) !== Boolean(table?.StreamSpecification?.StreamEnabled)) problems.push('stream setting differs');
  if (problems.length > 0) {
    throw new LocalSetupError(
      `Table ${name} in .herald/ no longer matches lib/description/ (${problems.join('; ')}): delete .herald/ or start with --in-memory.`,
    );
  }
}

/** Creates every queue of the description with its DLQ and redrive policy, as the CDK stack does. */
export interface LocalQueue {
  readonly url: string;
  readonly arn: string;
  readonly dlqUrl: string;
  readonly dlqArn: string;
}

export async function createQueues(client: SQSClient): Promise<Record<QueueName, LocalQueue>> {
  const created: Record<string, LocalQueue> = {};
  for (const [queue, spec] of Object.entries(queues) as Array<[QueueName, QueueSpec]>) {
    created[queue] = await createQueueWithDlq(client, localQueueName(queue), spec);
  }
  return created as Record<QueueName, LocalQueue>;
}

/** Creates every failure queue of the description (no DLQ: each is itself where failures rest). */
export async function createFailureQueues(client: SQSClient): Promise<Record<FailureQueueName, string>> {
  const urls: Record<string, string> = {};
  for (const name of Object.keys(failureQueues) as FailureQueueName[]) {
    const created = await client.send(
      new CreateQueueCommand({ QueueName: `herald-${name}-failures`, Attributes: { MessageRetentionPeriod: String(14 * 24 * 3600) } }),
    );
    urls[name] = created.QueueUrl!;
  }
  return urls as Record<FailureQueueName, string>;
}

export async function createQueueWithDlq(client: SQSClient, name: string, spec: QueueSpec): Promise<LocalQueue> {
  // A FIFO queue's DLQ is FIFO too, as SQS requires.
  const fifo = spec.fifo ? { FifoQueue: 'true' } : {};
  const dlq = await client.send(
    new CreateQueueCommand({
      QueueName: localDeadLetterQueueName(name),
      Attributes: { MessageRetentionPeriod: String(14 * 24 * 3600), VisibilityTimeout: String(DEAD_LETTER_VISIBILITY_SECONDS), ...fifo },
    }),
  );
  const dlqArn = await queueArn(client, dlq.QueueUrl!);
  const main = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: {
        VisibilityTimeout: String(spec.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: String(spec.maxReceiveCount) }),
        // As the CDK stack: deduplication and throughput per message group.
        ...(spec.fifo && { ...fifo, DeduplicationScope: 'messageGroup', FifoThroughputLimit: 'perMessageGroupId' }),
      },
    }),
  );
  return { url: main.QueueUrl!, arn: await queueArn(client, main.QueueUrl!), dlqUrl: dlq.QueueUrl!, dlqArn };
}

export async function queueArn(client: SQSClient, queueUrl: string): Promise<string> {
  const attributes = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  return attributes.Attributes!.QueueArn!;
}
