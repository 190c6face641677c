import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Table } from 'aws-cdk-lib/aws-dynamodb';
import { Construct } from 'constructs';
import { CONNECTION_TTL_SECONDS, TICKET_TTL_SECONDS } from '../config';
import {
  encodeSettings,
  functionSpecs,
  REALTIME_LIMIT_DEFAULTS,
  type RealtimeLimits,
  type FailureQueueName,
  type FunctionName,
  type FunctionSpec,
  type QueueName,
  type SettingName,
  type Trigger,
} from '../description';
import type { AlertFanout } from './alert-fanout';
import { HeraldFunction, type FunctionResources } from './herald-function';
import type { HttpApiAndIdentity } from './http-api-and-identity';
import type { RecordsSync } from './records-sync';
import { describedStreamReadOptions, type StreamReadOptions } from './stream-source';
import { InvalidPropsError, pascal, requireInteger, requireMatch, withDefaults } from './support';

type QueueTrigger = Extract<Trigger, { kind: 'queue' }>;

export interface HeraldFunctionsProps extends FunctionResources {
  /** Serves the functions with an `http` trigger. */
  readonly httpApi: HttpApiAndIdentity;
  /** Reads the Alerts stream into the function with a `stream` trigger. */
  readonly alertFanout: AlertFanout;
  /** The record collections and retention the sync functions read; its Records stream feeds the function whose failure queue is `recordAssignments`. */
  readonly records: RecordsSync;
  /**
   * Browser origins the $connect authorizer accepts.
   * @default the HTTP API's allowedOrigins
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * JWT claim holding the user's tenant.
   * @default 'custom:tenant' with the HTTP API's own Cognito pool, 'tenant' with another issuer
   */
  readonly tenantClaim?: string;
  /**
   * JWT claim holding the user's roles.
   * @default 'cognito:groups' with the HTTP API's own Cognito pool, 'roles' with another issuer
   */
  readonly rolesClaim?: string;
  /**
   * Days a notification is kept (DynamoDB TTL); resume past it answers `gap: true`.
   * @default 30
   */
  readonly notificationRetentionDays?: number;
  /**
   * Per-user caps of the realtime API: open sockets, and tickets per minute.
   * @default REALTIME_LIMIT_DEFAULTS (30 sockets, 60 tickets a minute)
   */
  readonly realtimeLimits?: RealtimeLimits;
  /**
   * CloudWatch retention of every function's log group.
   * @default one month
   */
  readonly logRetention?: RetentionDays;
}

const DEFAULTS = {
  notificationRetentionDays: 30,
  logRetention: RetentionDays.ONE_MONTH,
  realtimeLimits: REALTIME_LIMIT_DEFAULTS,
} satisfies Partial<HeraldFunctionsProps>;
const CLAIM = /^\S{1,256}$/;

/**
 * Every function of lib/description/ (a HeraldFunction each: code, role, log group), each
 * attached to its trigger through the capability that owns it: WebSocket routes and the $connect
 * authorizer to the realtime API, HTTP routes to the HTTP API, the Alerts stream to the alert
 * fan-out, the exports queue and its DLQ, and the link key's rotation, to scheduled exports.
 */
export class HeraldFunctions extends Construct {
  public readonly functions: Record<FunctionName, HeraldFunction>;
  /** The settings every function may read (encoded as lib/description/ encodes them locally too). */
  public readonly settings: Record<SettingName, string>;

  constructor(scope: Construct, id: string, props: HeraldFunctionsProps) {
    super(scope, id);
    const cognito = props.httpApi.userPool !== undefined;
    const merged = withDefaults(
      {
        ...DEFAULTS,
        allowedOrigins: props.httpApi.allowedOrigins,
        tenantClaim: cognito ? 'custom:tenant' : 'tenant',
        rolesClaim: cognito ? 'cognito:groups' : 'roles',
      },
      props,
    );
    requireInteger(this, 'notificationRetentionDays', merged.notificationRetentionDays, 1, 365);
    requireInteger(this, 'realtimeLimits.socketsPerUser', merged.realtimeLimits.socketsPerUser, 1, 1000);
    requireInteger(this, 'realtimeLimits.ticketsPerMinute', merged.realtimeLimits.ticketsPerMinute, 1, 10_000);
    requireMatch(this, 'tenantClaim', merged.tenantClaim, CLAIM, 'a claim name');
    requireMatch(this, 'rolesClaim', merged.rolesClaim, CLAIM, 'a claim name');
    const { data, exports, email, realtimeApi, httpApi, alertFanout } = merged;
    const specs = functionSpecs();
    const connectAuthorizer = onlyConnectAuthorizer(this, specs);

    this.settings = encodeSettings({
      allowedOrigins: merged.allowedOrigins,
      ticketTtlSeconds: TICKET_TTL_SECONDS,
      connectionTtlSeconds: CONNECTION_TTL_SECONDS,
      tenantClaim: merged.tenantClaim,
      rolesClaim: merged.rolesClaim,
      webSocketUrl: realtimeApi.stage.url,
      notificationRetentionDays: merged.notificationRetentionDays,
      emailSender: email.sender,
      emailConfigurationSet: email.configurationSetName,
      exportRetentionDays: exports.fileRetentionDays,
      exportRecords: exports.records,
      exportRecipientDomains: exports.recipientDomains,
      exportScheduleGroup: exports.scheduleGroupName,
      exportSchedulerRoleArn: exports.schedulerRole.roleArn,
      exportQueueArn: exports.queue.queueArn,
      exportDeadLetterQueueArn: exports.deadLetterQueue.queueArn,
      exportLinkKey: `secret:${exports.linkKey.secretArn}`,
      httpApiUrl: httpApi.stage.url,
      ...merged.realtimeLimits,
      recordCollections: merged.records.collections,
      recordRetentionDays: merged.records.retentionDays,
    });
    // `<Name>`: the construct ids Herald's functions have always had (their logical ids depend on them).
    this.functions = Object.fromEntries(
      specs.map(([name, spec]) => [
        name,
        new HeraldFunction(this, pascal(name), {
          spec,
          data,
          exports,
          email,
          realtimeApi,
          alertFanout,
          settings: this.settings,
          logRetention: merged.logRetention,
        }),
      ]),
    ) as Record<FunctionName, HeraldFunction>;

    // Triggers come after every function exists: $connect needs the authorizer function.
    // Each stream consumer belongs to the capability that owns its failure queue.
    const streamOwners: Record<FailureQueueName, { table: Table; readWith: (fn: LambdaFunction, options: StreamReadOptions) => void }> = {
      alertFanout: { table: alertFanout.alertsTable, readWith: (fn, options) => alertFanout.fanOutWith(fn, options) },
      recordAssignments: { table: merged.records.recordsTable, readWith: (fn, options) => merged.records.notifyAssigneesWith(fn, options) },
    };
    const queueConsumers: Record<QueueName, (fn: LambdaFunction, trigger: QueueTrigger) => void> = {
      exports: (fn, trigger) =>
        trigger.from === 'deadLetter'
          ? exports.processFailedRunsWith(fn, { batchSize: trigger.batchSize, maxConcurrency: trigger.maxConcurrency })
          : exports.processRunsWith(fn, { batchSize: trigger.batchSize, maxConcurrency: trigger.maxConcurrency }),
      alertChunks: (fn, trigger) => alertFanout.deliverChunksWith(fn, { batchSize: trigger.batchSize, maxConcurrency: trigger.maxConcurrency }),
    };
    for (const [name, spec] of specs) {
      const fn = this.functions[name].function;
      const integrationId = `${pascal(name)}Integration`;
      const { trigger } = spec;
      switch (trigger.kind) {
        case 'websocket-authorizer':
          break; // attached with $connect, the only route API Gateway lets an authorizer guard
        case 'websocket':
          if (trigger.route === '$connect') {
            realtimeApi.addConnectRoute(fn, {
              authorizer: this.functions[connectAuthorizer.name].function,
              identitySource: connectAuthorizer.identitySource,
              integrationId,
            });
          } else {
            realtimeApi.addRoute(trigger.route, fn, { returnResponse: trigger.returnResponse, integrationId });
          }
          break;
        case 'http':
          httpApi.addRoute(trigger.method, trigger.path, fn, {
            integrationId,
            withoutJwt:
              trigger.auth === 'none'
                ? {
                    reason: `lib/description/ declares ${trigger.method} ${trigger.path} with auth 'none': its callers hold no JWT (an emailed link, say), so the handler authenticates the request itself.`,
                  }
                : undefined,
          });
          break;
        case 'stream': {
          const owner = streamOwners[trigger.onFailure];
          if (owner.table !== data.tables[trigger.table]) {
            throw new InvalidPropsError(
              this,
              trigger.onFailure,
              `reads ${owner.table.node.path}, but function ${name} is triggered by the stream of table ${trigger.table}.`,
            );
          }
          owner.readWith(fn, describedStreamReadOptions(trigger));
          break;
        }
        case 'queue':
          queueConsumers[trigger.queue](fn, trigger);
          break;
        case 'secretRotation':
          // The one secret, the link key, belongs to scheduled exports.
          exports.rotateLinkKeyWith(fn);
          break;
      }
    }
  }
}

/**
 * The one function of the description that authorizes $connect; a description with none or two,
 * or without a $connect function, fails here at synth rather than after a deploy.
 */
function onlyConnectAuthorizer(scope: Construct, specs: Array<[FunctionName, FunctionSpec]>): { name: FunctionName; identitySource: readonly string[] } {
  const authorizers = specs.flatMap(([name, { trigger }]) =>
    trigger.kind === 'websocket-authorizer' ? [{ name, identitySource: trigger.identitySource }] : [],
  );
  const [connectAuthorizer] = authorizers;
  if (authorizers.length !== 1 || connectAuthorizer === undefined) {
    throw new InvalidPropsError(scope, 'functions', 'of lib/description/ must have exactly one function with a websocket-authorizer trigger.');
  }
  if (!specs.some(([, spec]) => spec.trigger.kind === 'websocket' && spec.trigger.route === '$connect')) {
    throw new InvalidPropsError(scope, 'functions', 'of lib/description/ must have a function on the websocket route $connect.');
  }
  return connectAuthorizer;
}
