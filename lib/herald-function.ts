import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, Stack, type CfnResource } from 'aws-cdk-lib';
import type { WebSocketStage } from 'aws-cdk-lib/aws-apigatewayv2';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { Bucket } from 'aws-cdk-lib/aws-s3';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  functionDefaults,
  functionEnvironment,
  type BucketAccess,
  type BucketName,
  type FunctionSpec,
  type QueueName,
  type SettingName,
  type TableAccess,
  type TableName,
  tableOperations,
  tables as tableSpecs,
  type TableSpec,
} from './description';
import { acknowledge, acknowledgeWildcardResources } from './nag';


const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** How every function is bundled; bench/cold-start.ts measures exactly this. */
export const bundling = {
  forceDockerBundling: false,
  format: OutputFormat.ESM,
  mainFields: ['module', 'main'],
  // Bundled CommonJS dependencies still call require(), which ESM lacks.
  banner: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
  minify: true,
  sourceMap: true,
  // Bundle the AWS SDK rather than use the runtime's copy: functions run the exact SDK the tests
  // ran against, and one minified file loads faster than the runtime's many (bench/cold-start.ts).
  externalModules: [],
} satisfies BundlingOptions;


export interface HeraldFunctionProps {
  /** The function as lib/description.ts describes it. */
  readonly spec: FunctionSpec;
  /** Every table of the deployment; the function gets access only to those its spec names. */
  readonly tables: Record<TableName, Table>;
  /** Every queue of the deployment; the function gets access only to those its spec names. */
  readonly queues: Record<QueueName, Queue>;
  /** Every bucket of the deployment; the function gets access only to those its spec names. */
  readonly buckets: Record<BucketName, Bucket>;
  /** What export functions may reach beyond tables, queues and buckets. */
  readonly exports: ExportResources;
  /** The stage whose @connections API the function may call when its spec sets manageConnections. */
  readonly webSocketStage: WebSocketStage;
  /** Values of the settings; the function receives those its spec names. */
  readonly settings: Record<SettingName, string>;
  /** CloudWatch retention of the function's log group, one of CloudWatch's allowed values. */
  readonly logRetentionDays: number;
}

export interface ExportResources {
  /** The Scheduler group whose schedules `manageSchedules` functions may write. */
  readonly scheduleGroupName: string;
  /** The role those schedules run as; such functions may pass it to Scheduler and to nothing else. */
  readonly schedulerRole: Role;
  /** Read by every function whose spec names the `exportLinkKey` setting. */
  readonly linkKey: ISecret;
  /** The only From address a `sendEmail` function may use. */
  readonly sender: string;
  /** The deployer's table behind the `records` dataset, when cdk.json names one. */
  readonly recordsTableName?: string;
}

/**
 * One Lambda of lib/description.ts: bundled locally by esbuild as ESM for nodejs22.x on ARM64,
 * traced, logging to its own log group, with a role that holds only what its spec asks for.
 */
export class HeraldFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: HeraldFunctionProps) {
    super(scope, id);
    const { spec } = props;
    // An own role instead of the default one keeps AWSLambdaBasicExecutionRole (a managed policy
    // writing to every log group) off the function: it may write to its own log group only.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: spec.description,
    });
    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetentionDays as RetentionDays });
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: join(REPO_ROOT, spec.entry),
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: join(REPO_ROOT, 'package-lock.json'),
      description: spec.description,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      timeout: Duration.seconds(spec.timeoutSeconds ?? functionDefaults.timeoutSeconds),
      memorySize: spec.memoryMb ?? functionDefaults.memoryMb,
      role: this.role,
      logGroup: this.logGroup,
      tracing: Tracing.ACTIVE,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: 'herald',
        POWERTOOLS_METRICS_NAMESPACE: 'Herald',
        ...functionEnvironment(spec, {
          tableNames: mapRecord(props.tables, (table) => table.tableName),
          queueUrls: mapRecord(props.queues, (queue) => queue.queueUrl),
          bucketNames: mapRecord(props.buckets, (bucket) => bucket.bucketName),
          connectionsEndpoint: props.webSocketStage.callbackUrl,
          settings: props.settings,
        }),
      },
      bundling,
    });
    const policy = this.role.node.findChild('DefaultPolicy').node.defaultChild as CfnResource;
    const lambda = this.function.node.defaultChild as CfnResource;
    acknowledge(
      lambda,
      'L1',
      'Herald pins nodejs22.x (docs/operations.md): the local runtime runs the same handlers on Node 22, so both run one Node version.',
    );
    acknowledge(
      policy,
      'IAM5[Resource::*]',
      'Active X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions' +
        (spec.trigger.kind === 'stream' ? ', and neither does dynamodb:ListStreams, which a stream trigger needs.' : '.'),
    );

    for (const [table, access] of Object.entries(spec.tables ?? {}) as Array<[TableName, TableAccess]>) {
      const indexGrant = grantTableAccess(props.tables[table], tableSpecs[table], this.role, access);
      if (indexGrant) {
        acknowledgeWildcardResources(
          policy,
          indexGrant,
          `Query on the ${table} table's own secondary indexes (<table ARN>/index/*), which lib/description.ts fixes.`,
        );
      }
    }
    for (const name of Object.keys(spec.queues ?? {}) as QueueName[]) props.queues[name].grant(this.role, 'sqs:SendMessage');
    for (const [name, access] of Object.entries(spec.buckets ?? {}) as Array<[BucketName, BucketAccess]>) {
      acknowledgeWildcardResources(
        policy,
        grantObjectAccess(props.buckets[name], this.role, access),
        `Export files are objects named at run time (<tenant>/<user>/<run>.<ext>) in the ${name} bucket; the grant names only object actions, on that bucket only.`,
      );
    }
    const { exports } = props;
    const stack = Stack.of(this);
    if (spec.manageSchedules && spec.manageSchedules.length > 0) {
      acknowledgeWildcardResources(
        policy,
        Grant.addToPrincipal({
          grantee: this.role,
          actions: spec.manageSchedules.map((operation) => `scheduler:${operation}`),
          resourceArns: [stack.formatArn({ service: 'scheduler', resource: 'schedule', resourceName: `${exports.scheduleGroupName}/*` })],
        }),
        "Schedules are created at run time, one per export schedule; the grant covers Herald's own schedule group only.",
      );
      // A schedule that sends to SQS names the role Scheduler assumes: creating or updating it passes that role.
      if (spec.manageSchedules.some((operation) => operation !== 'DeleteSchedule')) {
        this.role.addToPrincipalPolicy(
          new PolicyStatement({
            actions: ['iam:PassRole'],
            resources: [exports.schedulerRole.roleArn],
            conditions: { StringEquals: { 'iam:PassedToService': 'scheduler.amazonaws.com' } },
          }),
        );
      }
    }
    if (spec.sendEmail) {
      acknowledgeWildcardResources(
        policy,
        Grant.addToPrincipal({
          grantee: this.role,
          actions: ['ses:SendEmail'],
          resourceArns: [stack.formatArn({ service: 'ses', resource: 'identity', resourceName: '*' })],
          conditions: { StringEquals: { 'ses:FromAddress': exports.sender } },
        }),
        'SES authorizes a send against every identity it involves, recipients included (in the sandbox they are identities too), and recipients are chosen by users at run time; the From address is pinned by the ses:FromAddress condition.',
      );
    }
    // GetSecretValue alone: grantRead would add DescribeSecret, which nothing calls.
    if (spec.settings?.includes('exportLinkKey')) {
      this.role.addToPrincipalPolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [exports.linkKey.secretArn] }));
    }
    if (spec.readsExportRecords && exports.recordsTableName !== undefined) {
      // Query on the table alone: the dataset reads one tenant's partition, never scans or indexes.
      this.role.addToPrincipalPolicy(
        new PolicyStatement({
          actions: ['dynamodb:Query'],
          resources: [stack.formatArn({ service: 'dynamodb', resource: 'table', resourceName: exports.recordsTableName })],
        }),
      );
    }
    if (spec.manageConnections) {
      acknowledgeWildcardResources(
        policy,
        props.webSocketStage.grantManagementApiAccess(this.role),
        'Connection ids are only known at run time; the grant is limited to the @connections API of this one stage.',
      );
    }
  }
}

/**
 * Exactly the item operations the access names: on the table, and Query on its indexes for
 * QueryIndex. CDK's grantReadData and grantWriteData would add Scan, BatchWriteItem, DescribeTable
 * and the stream actions, which no Herald function calls (docs/local-iam.md). Returns the index
 * grant, whose wildcard cdk-nag reports.
 */
function grantTableAccess(table: Table, spec: TableSpec, grantee: Role, access: TableAccess): Grant | undefined {
  const operations = tableOperations(access);
  const onTable = operations.filter((operation) => operation !== 'QueryIndex');
  if (onTable.length > 0) Grant.addToPrincipal({ grantee, actions: onTable.map((operation) => `dynamodb:${operation}`), resourceArns: [table.tableArn] });
  if (!operations.includes('QueryIndex')) return undefined;
  if ((spec.indexes?.length ?? 0) + (spec.localIndexes?.length ?? 0) === 0) {
    // A level reads whatever the table has; a list naming QueryIndex expects an index.
    if (typeof access === 'string') return undefined;
    throw new Error(`QueryIndex on the ${table.node.id} table, which has no secondary index`);
  }
  return Grant.addToPrincipal({ grantee, actions: ['dynamodb:Query'], resourceArns: [`${table.tableArn}/index/*`] });
}

/** Object-level access only: no listing, no bucket configuration, no deletes. */
function grantObjectAccess(bucket: Bucket, grantee: Role, access: BucketAccess): Grant {
  const actions = {
    read: ['s3:GetObject'],
    write: ['s3:PutObject', 's3:AbortMultipartUpload'],
    readWrite: ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload'],
  }[access];
  return Grant.addToPrincipal({ grantee, actions, resourceArns: [bucket.arnForObjects('*')] });
}

/** Maps each value of a description record (tables, queues) keeping its key. */
export function mapRecord<K extends string, V, R>(record: Record<K, V>, fn: (value: V, key: K) => R): Record<K, R> {
  return Object.fromEntries(Object.entries<V>(record).map(([key, value]) => [key, fn(value, key as K)])) as Record<K, R>;
}
