import { DescribeTableCommand, DescribeTimeToLiveCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { HeadBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, GetQueueUrlCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { CfnResource } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  buckets,
  failureQueues,
  functionSpecs,
  queues,
  tableOperations,
  tables,
  type FailureQueueName,
  type FunctionName,
  type QueueName,
  type TableAccess,
  type TableName,
  type TableSpec,
} from '#lib/description';
import { arnInRegion, LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { localBucketName, localDeadLetterQueueName, localQueueName, localTableName } from '#lib/local/resources';
import { LOCAL_EXPORT_RECORDS, type ServedEventSource } from '#lib/local/runtime';
import { SKIP_BUNDLING, synthesize } from '../infra/synth';

/**
 * The CDK stack and the local runtime both read the description (lib/description). This proves
 * they agree, each side read from what it really built: the synthesized template on one side; on
 * the other the running local runtime, DynamoDB Local (DescribeTable, DescribeTimeToLive) and
 * fauxqs (GetQueueAttributes). Routes and event sources, table definitions, event-source settings
 * and queue attributes are compared, and every function's DynamoDB grants in the template (which
 * the local runtime enforces, lib/local/iam/) are compared with the access its entry names.
 *
 * Resources are named by one label on both sides: `table:<name>`, `stream:<table>`,
 * `queue:<queue>`, `queue:<queue>:deadLetter`, `failureQueue:<name>`.
 */
type Resource = { Type: string; Properties: Record<string, any> };
type Json = any;

/** A table's definition as both sides can state it. */
interface TableShape {
  /** `name HASH|RANGE S|N`, in key order. */
  readonly keys: string[];
  readonly globalIndexes: Record<string, IndexShape>;
  readonly localIndexes: Record<string, IndexShape>;
  readonly ttlAttribute: string | null;
  readonly streamViewType: string | null;
}
interface IndexShape {
  readonly keys: string[];
  readonly projection: string;
  readonly nonKeyAttributes: string[];
}

/** An event-source mapping's settings, as Lambda applies them (its defaults filled in). */
interface MappingShape {
  readonly batchSize: number;
  readonly reportBatchItemFailures: boolean;
  readonly filterPatterns: Json[];
  /** Queue mappings only: ScalingConfig.MaximumConcurrency, null when unbounded. */
  readonly maxConcurrency?: number | null;
  /** Stream mappings only. */
  readonly retryAttempts?: number;
  readonly maxRecordAgeSeconds?: number;
  readonly bisectBatchOnError?: boolean;
  readonly startingPosition?: string;
  readonly onFailure?: string | null;
}

interface QueueShape {
  readonly visibilityTimeoutSeconds: number;
  readonly messageRetentionSeconds: number;
  readonly redrive: { readonly target: string; readonly maxReceiveCount: number } | null;
}

/** SQS's own defaults for a queue created without the attribute. */
const SQS_DEFAULT_VISIBILITY_SECONDS = 30;
const SQS_DEFAULT_RETENTION_SECONDS = 4 * 24 * 3600;

/** The template's side of every comparison, read once from one synthesis. */
let deployed: {
  webSocketRoutes: string[];
  httpRoutes: string[];
  eventSources: Record<string, MappingShape>;
  tables: Record<string, TableShape>;
  queues: Record<string, QueueShape>;
  /** Mapping properties this test does not compare, per mapping; expected to be none. */
  uncomparedMappingProperties: Record<string, string[]>;
  /** `<function>: <dynamodb action> on <resource label>` for every DynamoDB action a function's role allows. */
  dynamodbGrants: string[];
  /** Per function: the managed policies of its role, whose statements the template does not hold; expected to be none. */
  managedPolicies: Record<string, unknown>;
  buckets: string[];
};

let dynamodb: DynamoDBClient;
let sqs: SQSClient;

beforeAll(() => {
  // With the deployer's records table the local runtime synthesizes with, so its grant is in the template too.
  const { template, stack } = synthesize({ ...SKIP_BUNDLING, exportRecords: LOCAL_EXPORT_RECORDS });
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const logicalId = (construct: { node: { defaultChild?: unknown } }) => stack.getLogicalId(construct.node.defaultChild as CfnResource);
  const described = stack.described;

  const functionByLogicalId = new Map<string, FunctionName>();
  for (const [name, fn] of Object.entries(described.functions)) functionByLogicalId.set(logicalId(fn.function), name as FunctionName);
  const tableByLogicalId = new Map<string, TableName>();
  for (const [name, table] of Object.entries(described.tables)) tableByLogicalId.set(logicalId(table), name as TableName);
  const queueLabelByLogicalId = new Map<string, string>();
  for (const [name, queue] of Object.entries(described.queues)) queueLabelByLogicalId.set(logicalId(queue), `queue:${name}`);
  for (const [name, queue] of Object.entries(described.deadLetterQueues)) queueLabelByLogicalId.set(logicalId(queue), `queue:${name}:deadLetter`);
  for (const [name, queue] of Object.entries(described.failureQueues)) queueLabelByLogicalId.set(logicalId(queue), `failureQueue:${name}`);

  /** The label of `{ Fn::GetAtt: [id, Arn | StreamArn] }`. */
  const labelOfAttribute = (value: Json): string => {
    const [id, attribute] = (value?.['Fn::GetAtt'] ?? []) as [string?, string?];
    const table = id === undefined ? undefined : tableByLogicalId.get(id);
    if (table !== undefined) return attribute === 'StreamArn' ? `stream:${table}` : `table:${table}`;
    return (id !== undefined && queueLabelByLogicalId.get(id)) || `unknown:${JSON.stringify(value)}`;
  };
  /** The function an integration or authorizer URI invokes: `arn:…:functions/${Fn.Arn}/invocations`. */
  const functionIn = (uri: unknown): FunctionName | undefined => {
    const text = JSON.stringify(uri);
    return [...functionByLogicalId].find(([id]) => text.includes(`"${id}"`))?.[1];
  };
  const apiProtocol = (apiRef: { Ref: string }) => resources[apiRef.Ref]?.Properties.ProtocolType;

  deployed = {
    webSocketRoutes: [],
    httpRoutes: [],
    eventSources: {},
    uncomparedMappingProperties: {},
    tables: {},
    queues: {},
    dynamodbGrants: [],
    managedPolicies: {},
    buckets: Object.keys(described.buckets),
  };
  for (const [id, resource] of Object.entries(resources)) {
    const properties = resource.Properties;
    switch (resource.Type) {
      case 'AWS::ApiGatewayV2::Route': {
        const integrationId = String(properties.Target?.['Fn::Join']?.[1]?.[1]?.Ref ?? '');
        const target = functionIn(resources[integrationId]?.Properties.IntegrationUri);
        const list = apiProtocol(properties.ApiId) === 'WEBSOCKET' ? deployed.webSocketRoutes : deployed.httpRoutes;
        list.push(`${properties.RouteKey} -> ${target}`);
        break;
      }
      case 'AWS::ApiGatewayV2::Authorizer':
        if (apiProtocol(properties.ApiId) === 'WEBSOCKET') deployed.webSocketRoutes.push(`$connect authorizer -> ${functionIn(properties.AuthorizerUri)}`);
        break;
      case 'AWS::Lambda::EventSourceMapping': {
        const mapping = `${labelOfAttribute(properties.EventSourceArn)} -> ${functionByLogicalId.get(properties.FunctionName?.Ref)}`;
        deployed.eventSources[mapping] = mappingInTemplate(properties, labelOfAttribute);
        deployed.uncomparedMappingProperties[mapping] = Object.keys(properties).filter((key) => !COMPARED_MAPPING_PROPERTIES.has(key));
        break;
      }
      case 'AWS::DynamoDB::Table':
        deployed.tables[tableByLogicalId.get(id) ?? `not in the description: ${id}`] = tableInTemplate(properties);
        break;
      case 'AWS::SQS::Queue':
        deployed.queues[queueLabelByLogicalId.get(id) ?? `not in the description: ${id}`] = queueInTemplate(properties, labelOfAttribute);
        break;
    }
  }

  // Each function's role: its own policies' statements, DynamoDB actions only.
  const statementsOfRole = (roleId: string): Json[] => [
    ...(resources[roleId]?.Properties.Policies ?? []).flatMap((policy: Json) => policy.PolicyDocument.Statement),
    ...Object.values(resources)
      .filter((resource) => resource.Type === 'AWS::IAM::Policy' && resource.Properties.Roles.some((role: Json) => role.Ref === roleId))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement),
  ];
  for (const [logical, name] of functionByLogicalId) {
    const roleId = String(resources[logical]!.Properties.Role?.['Fn::GetAtt']?.[0]);
    if (resources[roleId]?.Properties.ManagedPolicyArns) deployed.managedPolicies[name] = resources[roleId].Properties.ManagedPolicyArns;
    deployed.dynamodbGrants.push(...dynamodbGrantsOf(statementsOfRole(roleId), labelOfAttribute).map((grant) => `${name}: ${grant}`));
  }
}, 120_000);

beforeAll(() => {
  const { dynamodbUrl, sqsUrl } = inject('localUrls');
  dynamodb = new DynamoDBClient({ endpoint: dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  sqs = new SQSClient({ endpoint: sqsUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, useQueueUrlAsEndpoint: false });
});
afterAll(() => {
  dynamodb?.destroy();
  sqs?.destroy();
});

describe('the CDK template and the local runtime', () => {
  it('serve the same WebSocket routes and authorizer, with the same functions', () => {
    expect(deployed.webSocketRoutes.length).toBeGreaterThan(0);
    expect([...inject('localServed').webSocketRoutes].sort()).toEqual([...deployed.webSocketRoutes].sort());
  });

  it('serve the same HTTP routes, with the same functions', () => {
    expect(deployed.httpRoutes.length).toBeGreaterThan(0);
    expect([...inject('localServed').httpRoutes].sort()).toEqual([...deployed.httpRoutes].sort());
  });

  it('feed the same event sources to the same functions', () => {
    const deployedPairs = Object.keys(deployed.eventSources).sort();
    expect(deployedPairs).toContain('queue:exports -> exportWorker');
    expect(deployedPairs).toContain('queue:exports:deadLetter -> exportFailed');
    expect(deployedPairs).toContain('stream:alerts -> alertFanout');
    const localPairs = inject('localServed').eventSources.map((source) => `${source.source} -> ${source.function}`);
    expect(localPairs.sort()).toEqual(deployedPairs);
  });

  it('read each event source with the same settings: batch size, concurrency, retries, record age, bisection, starting position, filters, failure destination, partial batch responses', async () => {
    const local = await localResources();
    const served: Record<string, MappingShape> = {};
    // Keyed by the resource the poller really reads (its ARN), not by the label it was started under.
    for (const source of inject('localServed').eventSources) {
      served[`${local.labelOfArn(source.reads)} -> ${source.function}`] = mappingServed(source, local.labelOfQueueUrl);
    }
    expect(Object.keys(deployed.eventSources).length).toBeGreaterThan(0);
    expect(deployed.uncomparedMappingProperties, 'event-source mappings setting properties this test does not compare yet').toEqual(
      Object.fromEntries(Object.keys(deployed.eventSources).map((mapping) => [mapping, []])),
    );
    expect(facts(served), 'event-source pollers of the local runtime (received) vs AWS::Lambda::EventSourceMapping in the template (expected)').toEqual(
      facts(deployed.eventSources),
    );
  });

  it('create the same tables: keys and their types, global and local indexes with their projections, TTL attribute, stream view type', async () => {
    const local: Record<string, TableShape> = {};
    for (const name of Object.keys(tables) as TableName[]) local[name] = await tableInDynamoDbLocal(localTableName(name));
    expect(Object.keys(deployed.tables).sort(), 'AWS::DynamoDB::Table resources in the template vs tables in the description').toEqual(
      Object.keys(tables).sort(),
    );
    expect(facts(local), 'tables in DynamoDB Local, herald-<name> (received) vs AWS::DynamoDB::Table in the template (expected)').toEqual(
      facts(deployed.tables),
    );
  });

  it('create the same queues: visibility timeout, retention, redrive target and maxReceiveCount', async () => {
    const local = await localResources();
    const attributes: Record<string, QueueShape> = {};
    for (const [label, queue] of Object.entries(local.queues)) attributes[label] = queueInFauxqs(queue.attributes, local.labelOfArn);
    expect(Object.keys(deployed.queues).length).toBeGreaterThan(0);
    expect(facts(attributes), 'queues in fauxqs (received) vs AWS::SQS::Queue in the template (expected)').toEqual(facts(deployed.queues));
  });

  it("grant each function's role exactly the DynamoDB access its entry names", () => {
    const described: string[] = [];
    for (const [name, spec] of functionSpecs()) {
      const grant = (resource: string, ...actions: string[]) => described.push(...actions.map((action) => `${name}: dynamodb:${action} on ${resource}`));
      for (const [table, access] of Object.entries(spec.tables ?? {}) as Array<[TableName, TableAccess]>) {
        const operations = tableOperations(access);
        const onTable = operations.filter((operation) => operation !== 'QueryIndex');
        if (onTable.length > 0) grant(`table:${table}`, ...onTable);
        // QueryIndex is Query on the table's secondary indexes; a table without any has none to grant it on.
        const tableSpec: TableSpec = tables[table];
        const hasIndexes = (tableSpec.indexes?.length ?? 0) + (tableSpec.localIndexes?.length ?? 0) > 0;
        if (operations.includes('QueryIndex') && hasIndexes) grant(`table:${table}/index/*`, 'Query');
      }
      if (spec.trigger.kind === 'stream') {
        // What Lambda's stream event-source mapping calls as the function's role; ListStreams takes no resource.
        grant(`stream:${spec.trigger.table}`, 'DescribeStream', 'GetRecords', 'GetShardIterator');
        grant('*', 'ListStreams');
      }
      if (spec.readsExportRecords) grant(`deployer table:${LOCAL_EXPORT_RECORDS.table}`, 'Query');
    }
    expect(deployed.dynamodbGrants.length).toBeGreaterThan(0);
    // A managed policy's statements are not in the template, so the grants below would miss them.
    expect(deployed.managedPolicies, 'function roles with managed policies').toEqual({});
    expect(
      deployed.dynamodbGrants.sort(),
      "DynamoDB actions each function's role allows in the template (received) vs its access in the description (expected)",
    ).toEqual([...new Set(described)].sort());
  });

  it('create the same buckets', async () => {
    expect(deployed.buckets.sort()).toEqual(Object.keys(buckets).sort());
    const s3 = new S3Client({ endpoint: inject('localUrls').s3Url, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, forcePathStyle: true });
    try {
      for (const name of Object.keys(buckets) as Array<keyof typeof buckets>) {
        await expect(s3.send(new HeadBucketCommand({ Bucket: localBucketName(name) })), `bucket ${localBucketName(name)}`).resolves.toBeDefined();
      }
    } finally {
      s3.destroy();
    }
  });
});

/**
 * `path = value` lines of a record of shapes, sorted: a difference shows as its own line naming
 * the table, queue or mapping (`alerts.streamViewType = "NEW_IMAGE"`).
 */
function facts(value: Json, path = ''): string[] {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return [`${path} = ${JSON.stringify(value)}`];
  const entries = Object.entries(value);
  if (entries.length === 0) return [`${path} = {}`];
  return entries.flatMap(([key, inner]) => facts(inner, path === '' ? key : `${path}.${key}`)).sort();
}

// --- The template's side ---

/** Properties of a mapping this test compares; a mapping setting anything else fails until it is compared too. */
const COMPARED_MAPPING_PROPERTIES = new Set([
  'EventSourceArn',
  'FunctionName',
  'BatchSize',
  'FunctionResponseTypes',
  'FilterCriteria',
  'MaximumRetryAttempts',
  'MaximumRecordAgeInSeconds',
  'BisectBatchOnFunctionError',
  'StartingPosition',
  'DestinationConfig',
  'ScalingConfig',
]);

function mappingInTemplate(properties: Json, labelOf: (value: Json) => string): MappingShape {
  const source = labelOf(properties.EventSourceArn);
  const common = {
    reportBatchItemFailures: (properties.FunctionResponseTypes ?? []).includes('ReportBatchItemFailures'),
    filterPatterns: (properties.FilterCriteria?.Filters ?? []).map((filter: Json) => JSON.parse(filter.Pattern)),
  };
  if (!source.startsWith('stream:'))
    return { batchSize: properties.BatchSize ?? 10, ...common, maxConcurrency: properties.ScalingConfig?.MaximumConcurrency ?? null };
  // Lambda's defaults for a stream mapping that leaves a setting out.
  return {
    batchSize: properties.BatchSize ?? 100,
    ...common,
    retryAttempts: properties.MaximumRetryAttempts ?? -1,
    maxRecordAgeSeconds: properties.MaximumRecordAgeInSeconds ?? -1,
    bisectBatchOnError: properties.BisectBatchOnFunctionError ?? false,
    startingPosition: properties.StartingPosition,
    onFailure: properties.DestinationConfig?.OnFailure ? labelOf(properties.DestinationConfig.OnFailure.Destination) : null,
  };
}

/** Both sides' table definitions have DynamoDB's CreateTable shape; TTL and stream come separately. */
function tableShape(definition: Json, ttlAttribute: string | null, streamViewType: string | null): TableShape {
  const types = new Map<string, string>((definition.AttributeDefinitions ?? []).map((attribute: Json) => [attribute.AttributeName, attribute.AttributeType]));
  const keys = (schema: Json[]) => schema.map((key) => `${key.AttributeName} ${key.KeyType} ${types.get(key.AttributeName) ?? '?'}`);
  const indexes = (list: Json[] | undefined) =>
    Object.fromEntries(
      (list ?? []).map((index) => [
        index.IndexName,
        { keys: keys(index.KeySchema), projection: index.Projection?.ProjectionType, nonKeyAttributes: [...(index.Projection?.NonKeyAttributes ?? [])].sort() },
      ]),
    );
  return {
    keys: keys(definition.KeySchema),
    globalIndexes: indexes(definition.GlobalSecondaryIndexes),
    localIndexes: indexes(definition.LocalSecondaryIndexes),
    ttlAttribute,
    streamViewType,
  };
}

function tableInTemplate(properties: Json): TableShape {
  const ttl = properties.TimeToLiveSpecification;
  return tableShape(properties, ttl?.Enabled ? ttl.AttributeName : null, properties.StreamSpecification?.StreamViewType ?? null);
}

function queueInTemplate(properties: Json, labelOf: (value: Json) => string): QueueShape {
  const redrive = properties.RedrivePolicy;
  return {
    visibilityTimeoutSeconds: Number(properties.VisibilityTimeout ?? SQS_DEFAULT_VISIBILITY_SECONDS),
    messageRetentionSeconds: Number(properties.MessageRetentionPeriod ?? SQS_DEFAULT_RETENTION_SECONDS),
    redrive: redrive ? { target: labelOf(redrive.deadLetterTargetArn), maxReceiveCount: Number(redrive.maxReceiveCount) } : null,
  };
}

/** `<dynamodb action> on <resource label>`, once each, for a role's Allow statements. */
function dynamodbGrantsOf(statements: Json[], labelOf: (value: Json) => string): string[] {
  const grants = new Set<string>();
  for (const statement of statements) {
    if (statement.Effect !== 'Allow') continue;
    const actions = [statement.Action].flat().filter((action: string) => action.startsWith('dynamodb:'));
    for (const resource of [statement.Resource].flat()) for (const action of actions) grants.add(`${action} on ${resourceLabel(resource, labelOf)}`);
  }
  return [...grants];
}

/** `*`, a table or stream (GetAtt), a table's indexes (`<Arn>/index/*`), or a table named by ARN (the deployer's). */
function resourceLabel(resource: Json, labelOf: (value: Json) => string): string {
  if (typeof resource === 'string') return resource;
  if (resource['Fn::GetAtt']) return labelOf(resource);
  const [separator, parts] = (resource['Fn::Join'] ?? []) as [string?, Json[]?];
  if (separator === '' && parts) {
    const [first, ...rest] = parts;
    if (first?.['Fn::GetAtt'] && rest.every((part) => typeof part === 'string')) return `${labelOf(first)}${rest.join('')}`;
    const named = typeof parts.at(-1) === 'string' ? /:table\/([^/]+)$/.exec(parts.at(-1)) : null;
    if (named) return `deployer table:${named[1]}`;
  }
  return JSON.stringify(resource);
}

// --- The local side ---

function mappingServed(source: ServedEventSource, labelOfQueueUrl: (url: string) => string): MappingShape {
  const common = { batchSize: source.batchSize, reportBatchItemFailures: source.reportBatchItemFailures, filterPatterns: [...(source.filterPatterns ?? [])] };
  if (!source.source.startsWith('stream:')) return { ...common, maxConcurrency: source.maxConcurrency ?? null };
  return {
    ...common,
    retryAttempts: source.retryAttempts,
    maxRecordAgeSeconds: source.maxRecordAgeSeconds,
    bisectBatchOnError: source.bisectBatchOnError,
    startingPosition: source.startingPosition,
    onFailure: source.onFailureQueueUrl === undefined ? null : labelOfQueueUrl(source.onFailureQueueUrl),
  };
}

async function tableInDynamoDbLocal(tableName: string): Promise<TableShape> {
  const { Table: table } = await dynamodb.send(new DescribeTableCommand({ TableName: tableName }));
  const { TimeToLiveDescription: ttl } = await dynamodb.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const stream = table?.StreamSpecification?.StreamEnabled ? (table.StreamSpecification.StreamViewType ?? null) : null;
  return tableShape(table, ttl?.TimeToLiveStatus === 'ENABLED' ? (ttl.AttributeName ?? null) : null, stream);
}

function queueInFauxqs(attributes: Record<string, string>, labelOfArn: (arn: string) => string): QueueShape {
  const redrive = attributes.RedrivePolicy
    ? (JSON.parse(attributes.RedrivePolicy) as { deadLetterTargetArn: string; maxReceiveCount: string | number })
    : undefined;
  return {
    visibilityTimeoutSeconds: Number(attributes.VisibilityTimeout),
    messageRetentionSeconds: Number(attributes.MessageRetentionPeriod),
    redrive: redrive ? { target: labelOfArn(redrive.deadLetterTargetArn), maxReceiveCount: Number(redrive.maxReceiveCount) } : null,
  };
}

/**
 * The local queues and streams by label, found by the names lib/local/resources.ts gives them
 * (`herald-<queue>`, its DLQ `herald-<queue>-dlq` (before `.fifo` for a FIFO queue), `herald-<name>-failures`; streams by their
 * table), with their attributes as fauxqs reports them.
 */
async function localResources() {
  const queueNames: Record<string, string> = {};
  for (const queue of Object.keys(queues) as QueueName[]) {
    queueNames[`queue:${queue}`] = localQueueName(queue);
    queueNames[`queue:${queue}:deadLetter`] = localDeadLetterQueueName(localQueueName(queue));
  }
  for (const name of Object.keys(failureQueues) as FailureQueueName[]) queueNames[`failureQueue:${name}`] = `herald-${name}-failures`;

  const localQueues: Record<string, { url: string; attributes: Record<string, string> }> = {};
  const labelByArn = new Map<string, string>();
  const labelByUrl = new Map<string, string>();
  for (const [label, queueName] of Object.entries(queueNames)) {
    const { QueueUrl: url } = await sqs.send(new GetQueueUrlCommand({ QueueName: queueName }));
    const { Attributes: attributes = {} } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }));
    localQueues[label] = { url: url!, attributes };
    labelByArn.set(attributes.QueueArn!, label);
    labelByUrl.set(url!, label);
  }
  for (const table of Object.keys(tables) as TableName[]) {
    const { Table: description } = await dynamodb.send(new DescribeTableCommand({ TableName: localTableName(table) }));
    // The pollers name streams in the local region, as Lambda's records do (docs/local.md).
    if (description?.LatestStreamArn) labelByArn.set(arnInRegion(description.LatestStreamArn), `stream:${table}`);
  }
  return {
    queues: localQueues,
    labelOfArn: (arn: string) => labelByArn.get(arn) ?? `unknown local resource ${arn}`,
    labelOfQueueUrl: (url: string) => labelByUrl.get(url) ?? `unknown local queue ${url}`,
  };
}
