import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, type CfnResource } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, Tracing } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, type BundlingOptions } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
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
} from '../description';
import type { AlertFanout } from './alert-fanout';
import type { EmailSender } from './email-sender';
import type { HeraldData } from './herald-data';
import { acknowledge, acknowledgeWildcardResources } from './nag';
import type { RealtimeApi } from './realtime-api';
import type { ScheduledExports } from './scheduled-exports';
import { mapRecord, withDefaults } from './support';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How every function is bundled; bench/bundle.ts bundles the benchmarks' cases exactly so. */
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

/** The capabilities a described function can reach; its spec says which parts, and how. */
export interface FunctionResources {
  /** Tables: the function gets exactly the operations its spec names on each. */
  readonly data: HeraldData;
  /** The exports queue, bucket, schedules, link key and records table. */
  readonly exports: ScheduledExports;
  /** The From address of `sendEmail` functions. */
  readonly email: EmailSender;
  /** The stage whose @connections API `manageConnections` functions call. */
  readonly realtimeApi: RealtimeApi;
  /** The Alerts stream (read by the fan-out) and the alert chunk queue. */
  readonly alertFanout: AlertFanout;
}

export interface HeraldFunctionProps extends FunctionResources {
  /** The function as lib/description/ describes it. */
  readonly spec: FunctionSpec;
  /** Values of the settings; the function receives those its spec names. */
  readonly settings: Record<SettingName, string>;
  /**
   * CloudWatch retention of the function's log group.
   * @default one month
   */
  readonly logRetention?: RetentionDays;
}

const DEFAULTS = { logRetention: RetentionDays.ONE_MONTH } satisfies Partial<HeraldFunctionProps>;

/**
 * One Lambda of lib/description/: bundled locally by esbuild as ESM for nodejs22.x on ARM64,
 * traced, logging to its own log group, with a role that holds only what its spec asks for.
 */
export class HeraldFunction extends Construct {
  public readonly function: NodejsFunction;
  public readonly role: Role;
  public readonly logGroup: LogGroup;

  constructor(scope: Construct, id: string, props: HeraldFunctionProps) {
    super(scope, id);
    const { spec, data, exports, email, realtimeApi, alertFanout, settings, logRetention } = withDefaults(DEFAULTS, props);
    // An own role instead of the default one keeps AWSLambdaBasicExecutionRole (a managed policy
    // writing to every log group) off the function: it may write to its own log group only.
    this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: spec.description,
    });
    this.logGroup = new LogGroup(this, 'Logs', { retention: logRetention });
    this.logGroup.grantWrite(this.role);

    // The description names queues and buckets; each belongs to the capability that owns it.
    const queueUrls: Record<QueueName, string> = { exports: exports.queue.queueUrl, alertChunks: alertFanout.chunkQueue.queueUrl };
    const queueSenders: Record<QueueName, (grantee: Role) => unknown> = {
      exports: (grantee) => exports.grantRequestRuns(grantee),
      alertChunks: (grantee) => alertFanout.grantSendChunks(grantee),
    };
    const bucketOwners: Record<BucketName, ScheduledExports> = { exports };
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
          tableNames: mapRecord(data.tables, (table) => table.tableName),
          queueUrls,
          bucketNames: mapRecord(bucketOwners, (owner) => owner.bucket.bucketName),
          connectionsEndpoint: realtimeApi.stage.callbackUrl,
          settings,
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
      const indexGrant = data.grantTableAccess(table, this.role, access);
      if (indexGrant) {
        acknowledgeWildcardResources(
          policy,
          indexGrant,
          `Query on the ${table} table's own secondary indexes (<table ARN>/index/*), which lib/description/ fixes.`,
        );
      }
    }
    for (const name of Object.keys(spec.queues ?? {}) as QueueName[]) queueSenders[name](this.role);
    for (const [name, access] of Object.entries(spec.buckets ?? {}) as Array<[BucketName, BucketAccess]>) {
      acknowledgeWildcardResources(
        policy,
        bucketOwners[name].grantFileAccess(this.role, access),
        `Export files are objects named at run time (<tenant>/<user>/<run>.<ext>) in the ${name} bucket; the grant names only object actions, on that bucket only.`,
      );
    }
    if (spec.manageSchedules && spec.manageSchedules.length > 0) {
      acknowledgeWildcardResources(
        policy,
        exports.grantManageSchedules(this.role, spec.manageSchedules),
        "Schedules are created at run time, one per export schedule; the grant covers Herald's own schedule group only.",
      );
    }
    if (spec.sendEmail) {
      acknowledgeWildcardResources(
        policy,
        email.grantSendEmail(this.role),
        'SES authorizes a send against every identity it involves, recipients included (in the sandbox they are identities too), and recipients are chosen by users at run time; the From address is pinned by the ses:FromAddress condition.',
      );
    }
    if (spec.settings?.includes('exportLinkKey')) exports.grantReadLinkKey(this.role);
    // One secret so far: the link key, which the exports capability owns.
    const linkKeyOperations = spec.secrets?.exportLinkKey;
    if (linkKeyOperations && linkKeyOperations.length > 0) exports.grantLinkKey(this.role, linkKeyOperations);
    if (spec.readsExportRecords) exports.grantQueryRecords(this.role);
    if (spec.manageConnections) {
      acknowledgeWildcardResources(
        policy,
        realtimeApi.grantManageConnections(this.role),
        'Connection ids are only known at run time; the grant is limited to the @connections API of this one stage.',
      );
    }
  }
}
