import { Duration, Stack } from 'aws-cdk-lib';
import { Alarm, AlarmStatusWidget, Dashboard, GraphWidget, MathExpression, Metric, TextWidget, type IMetric, type IWidget } from 'aws-cdk-lib/aws-cloudwatch';
import type { Operation } from 'aws-cdk-lib/aws-dynamodb';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import { EMAIL } from '#functions/shared/email';
import { functionSpecs, tableOperations, type FunctionName, type TableName } from '../description';
import { alarmAtLeast, COUNT_EACH_5_MINUTES, COUNT_EACH_MINUTE, RUNBOOK } from './alarms';
import type { AlertFanout } from './alert-fanout';
import { SES_CONFIGURATION_SET_DIMENSION, type EmailSender } from './email-sender';
import type { HeraldData } from './herald-data';
import type { HeraldFunction } from './herald-function';
import type { HttpApiAndIdentity } from './http-api-and-identity';
import type { RealtimeApi } from './realtime-api';
import type { ScheduledExports } from './scheduled-exports';
import { InvalidPropsError, pascal, requireMatch } from './support';

export interface ObservabilityProps {
  /**
   * Where alarms go: an address the construct subscribes to an alarm topic it creates. Exactly one
   * of this and `alarmTopic`.
   */
  readonly alarmEmail?: string;
  /** Where alarms go: an existing topic (your pager's). Exactly one of this and `alarmEmail`. */
  readonly alarmTopic?: ITopic;
}

/** What `watch` alarms on and charts: every capability of the Herald stack. */
export interface WatchedResources {
  readonly data: HeraldData;
  readonly functions: Readonly<Record<FunctionName, HeraldFunction>>;
  readonly alertFanout: AlertFanout;
  readonly exports: ScheduledExports;
  readonly realtimeApi: RealtimeApi;
  readonly httpApi: HttpApiAndIdentity;
  readonly email: EmailSender;
}

/** Powertools publishes Herald's own metrics here, with the service name as a dimension (lib/infra/herald-function.ts). */
const HERALD_NAMESPACE = 'Herald';
const HERALD_DIMENSIONS = { service: 'herald' };

/**
 * The thresholds, in one place so docs/runbook.md can state them. Counts are per 5 minutes unless
 * the name says otherwise.
 */
export const THRESHOLDS = {
  /** Unhandled errors of one function: handlers answer bad input themselves, so an error is a fault. */
  lambdaErrors: 3,
  /** Throttled invocations of one function: the account's concurrency ran out. */
  lambdaThrottles: 1,
  /** Age of the newest record a stream consumer (the alert fan-out, the record assignment notifier) read, in ms, three minutes running. */
  iteratorAgeMs: 120_000,
  /** WebSocket integration or execution errors. */
  webSocketErrors: 5,
  /** HTTP API 5xx answers (integration errors included: HTTP APIs count them as 5xx). */
  http5xx: 5,
  /** Read and write throttle events of one table. */
  tableThrottles: 10,
  /** DynamoDB 500s on one table (the SDK retries them; a steady rate is an AWS-side problem). */
  tableSystemErrors: 5,
  /** Bounces per 100 sends over an hour with at least 20 sends; SES reviews an account at 5 %. */
  bounceRatePercent: 4,
  /** Complaints per 100 sends over an hour with at least 20 sends; SES reviews an account at 0.1 %. */
  complaintRatePercent: 0.08,
  /** Pushes that failed other than 410 Gone (the client's resume recovers each). */
  pushesFailed: 10,
  /** deliver() calls that gave up on a hot counter and answered 503. */
  deliveryContention: 1,
  /** Export runs that ran out of attempts and were marked failed. */
  exportRunsFailed: 1,
  /**
   * Failed steps of the link key's rotation. One is enough: a rotation is four invocations a month,
   * far below the function error alarm's 3 in 5 minutes, and a key that stops rotating fails silently.
   */
  linkKeyRotationFailures: 1,
} as const;

/** Fewer sends than this in an hour make a rate meaningless (one bounce of 3 sends is 33 %). */
const MIN_SENDS_FOR_A_RATE = 20;
/** CloudWatch alarms take at most 10 metrics in one expression. */
const MAX_METRICS_PER_ALARM = 10;

/**
 * Herald's operations view: the topic every alarm notifies (created with an email subscription, or
 * an existing one), an alarm on every failure signal of every capability, each pointing at its
 * section of docs/runbook.md, and a CloudWatch dashboard. Build it first, hand `alarmTopic` to the
 * capabilities whose own alarms need it, then `watch` them once they exist.
 */
export class Observability extends Construct {
  /** The topic every alarm notifies. */
  public readonly alarmTopic: ITopic;
  /** The topic this construct created for alarmEmail; absent with an existing topic. */
  public readonly createdTopic?: Topic;
  /** Every alarm `watch` created, by construct id. */
  public readonly alarms: Record<string, Alarm> = {};
  /** The dashboard `watch` created. */
  public dashboard?: Dashboard;

  constructor(scope: Construct, id: string, props: ObservabilityProps) {
    super(scope, id);
    if ((props.alarmEmail === undefined) === (props.alarmTopic === undefined)) {
      throw new InvalidPropsError(this, 'alarmEmail', 'or alarmTopic must be given, and only one: every alarm must reach a person.');
    }
    if (props.alarmTopic) {
      this.alarmTopic = props.alarmTopic;
    } else {
      requireMatch(this, 'alarmEmail', props.alarmEmail!, EMAIL, 'one plain address such as ops@example.com');
      this.createdTopic = new Topic(this, 'AlarmTopic', { displayName: `${Stack.of(this).stackName} alarms`, enforceSSL: true });
      this.createdTopic.addSubscription(new EmailSubscription(props.alarmEmail!));
      // Not encrypted with KMS: the topic carries alarm names, states and metric values, never
      // user data, and CloudWatch can publish to an encrypted topic only through a customer
      // managed key whose policy admits it. Publishing requires TLS (cdk-nag's SNS3).
      this.alarmTopic = this.createdTopic;
    }
    this.node.addValidation({ validate: () => (this.dashboard ? [] : ['Observability watches nothing: call watch(resources) once every capability exists.']) });
  }

  /** Creates the alarms and the dashboard over `resources`. Call once. */
  public watch(resources: WatchedResources): void {
    if (this.dashboard) throw new InvalidPropsError(this, 'watch', 'was called twice; the stack has one set of alarms.');
    const { data, functions, realtimeApi, httpApi, email } = resources;
    const topic = this.alarmTopic;
    const add = (alarm: Alarm) => {
      this.alarms[alarm.node.id] = alarm;
      return alarm;
    };

    // Lambda: every function's errors and throttles.
    for (const [name, { function: fn }] of Object.entries(functions) as Array<[FunctionName, HeraldFunction]>) {
      add(
        alarmAtLeast(
          this,
          `${pascal(name)}ErrorsAlarm`,
          `Function ${name} failed ${THRESHOLDS.lambdaErrors} or more invocations in 5 minutes`,
          RUNBOOK.lambdaErrors,
          fn.metricErrors(COUNT_EACH_5_MINUTES),
          THRESHOLDS.lambdaErrors,
          topic,
        ),
      );
      add(
        alarmAtLeast(
          this,
          `${pascal(name)}ThrottlesAlarm`,
          `Function ${name} was throttled: Lambda refused invocations for lack of concurrency`,
          RUNBOOK.lambdaThrottles,
          fn.metricThrottles(COUNT_EACH_5_MINUTES),
          THRESHOLDS.lambdaThrottles,
          topic,
        ),
      );
    }

    // The Alerts stream: how far behind the fan-out reads.
    const fanout = functions.alertFanout.function;
    const iteratorAge = fanout.metric('IteratorAge', { period: Duration.minutes(1), statistic: 'Maximum' });
    add(
      alarmAtLeast(
        this,
        'AlertStreamIteratorAgeAlarm',
        `The alert fan-out has read the Alerts stream ${THRESHOLDS.iteratorAgeMs / 1000} s or more behind for 3 minutes`,
        RUNBOOK.streamIteratorAge,
        iteratorAge,
        THRESHOLDS.iteratorAgeMs,
        topic,
        { evaluationPeriods: 3 },
      ),
    );

    // The Records stream: how far behind assignment notifications are.
    add(
      alarmAtLeast(
        this,
        'RecordStreamIteratorAgeAlarm',
        `The record assignment notifier has read the Records stream ${THRESHOLDS.iteratorAgeMs / 1000} s or more behind for 3 minutes`,
        RUNBOOK.recordStreamIteratorAge,
        functions.notifyRecordAssignees.function.metric('IteratorAge', { period: Duration.minutes(1), statistic: 'Maximum' }),
        THRESHOLDS.iteratorAgeMs,
        topic,
        { evaluationPeriods: 3 },
      ),
    );

    // The APIs.
    const webSocketMetric = (metricName: string) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: realtimeApi.webSocketApi.apiId, Stage: realtimeApi.stage.stageName },
        ...COUNT_EACH_5_MINUTES,
      });
    add(
      alarmAtLeast(
        this,
        'WebSocketIntegrationErrorsAlarm',
        `The WebSocket API got ${THRESHOLDS.webSocketErrors} or more errors from its functions in 5 minutes`,
        RUNBOOK.webSocketErrors,
        webSocketMetric('IntegrationError'),
        THRESHOLDS.webSocketErrors,
        topic,
      ),
    );
    add(
      alarmAtLeast(
        this,
        'WebSocketExecutionErrorsAlarm',
        `The WebSocket API failed ${THRESHOLDS.webSocketErrors} or more requests itself in 5 minutes`,
        RUNBOOK.webSocketErrors,
        webSocketMetric('ExecutionError'),
        THRESHOLDS.webSocketErrors,
        topic,
      ),
    );
    const http5xx = httpApi.httpApi.metricServerError(COUNT_EACH_5_MINUTES);
    add(
      alarmAtLeast(
        this,
        'HttpApi5xxAlarm',
        `The HTTP API answered ${THRESHOLDS.http5xx} or more requests with 5xx in 5 minutes`,
        RUNBOOK.httpErrors,
        http5xx,
        THRESHOLDS.http5xx,
        topic,
      ),
    );

    // DynamoDB: every table's throttles and system errors, on the operations Herald performs on it.
    const operationsByTable = tableOperationsInUse(data);
    for (const [name, table] of Object.entries(data.tables) as Array<[TableName, HeraldData['tables'][TableName]]>) {
      const throttles = new MathExpression({
        expression: 'reads + writes',
        usingMetrics: {
          reads: table.metric('ReadThrottleEvents', COUNT_EACH_5_MINUTES),
          writes: table.metric('WriteThrottleEvents', COUNT_EACH_5_MINUTES),
        },
        label: `${name} throttle events`,
        period: Duration.minutes(5),
      });
      add(
        alarmAtLeast(
          this,
          `${pascal(name)}TableThrottlesAlarm`,
          `DynamoDB throttled ${THRESHOLDS.tableThrottles} or more requests on the ${name} table in 5 minutes`,
          RUNBOOK.tableThrottles,
          throttles,
          THRESHOLDS.tableThrottles,
          topic,
        ),
      );
      const operations = operationsByTable[name];
      if (operations.length === 0) continue;
      if (operations.length > MAX_METRICS_PER_ALARM) {
        throw new InvalidPropsError(this, 'data', `has ${operations.length} operations on the ${name} table; one alarm sums at most ${MAX_METRICS_PER_ALARM}.`);
      }
      add(
        alarmAtLeast(
          this,
          `${pascal(name)}TableSystemErrorsAlarm`,
          `DynamoDB answered ${THRESHOLDS.tableSystemErrors} or more requests on the ${name} table with a system error in 5 minutes`,
          RUNBOOK.tableSystemErrors,
          table.metricSystemErrorsForOperations({ operations: operations as Operation[], period: Duration.minutes(5) }),
          THRESHOLDS.tableSystemErrors,
          topic,
        ),
      );
    }

    // SES, through the configuration set every send names.
    const sesCount = (metricName: string) =>
      new Metric({
        namespace: 'AWS/SES',
        metricName,
        dimensionsMap: { [SES_CONFIGURATION_SET_DIMENSION]: email.configurationSetName },
        period: Duration.hours(1),
        statistic: 'Sum',
      });
    // The ids differ per rate, since the dashboard draws both in one graph.
    const rate = (metricName: string, id: string, label: string) =>
      new MathExpression({
        expression: `IF(sends >= ${MIN_SENDS_FOR_A_RATE}, 100 * ${id} / sends, 0)`,
        usingMetrics: { sends: sesCount('Send'), [id]: sesCount(metricName) },
        label,
        period: Duration.hours(1),
      });
    const bounceRate = rate('Bounce', 'bounces', 'Bounce rate (%)');
    const complaintRate = rate('Complaint', 'complaints', 'Complaint rate (%)');
    add(
      alarmAtLeast(
        this,
        'EmailBounceRateAlarm',
        `${THRESHOLDS.bounceRatePercent} % or more of Herald's emails bounced in an hour (SES reviews the account at 5 %)`,
        RUNBOOK.emailBounces,
        bounceRate,
        THRESHOLDS.bounceRatePercent,
        topic,
      ),
    );
    add(
      alarmAtLeast(
        this,
        'EmailComplaintRateAlarm',
        `${THRESHOLDS.complaintRatePercent} % or more of Herald's emails drew a complaint in an hour (SES reviews the account at 0.1 %)`,
        RUNBOOK.emailComplaints,
        complaintRate,
        THRESHOLDS.complaintRatePercent,
        topic,
      ),
    );

    // Herald's own metrics (Powertools, functions/shared/instrumentation.ts).
    const herald = (metricName: string, options = COUNT_EACH_5_MINUTES) =>
      new Metric({ namespace: HERALD_NAMESPACE, metricName, dimensionsMap: HERALD_DIMENSIONS, ...options });
    add(
      alarmAtLeast(
        this,
        'PushesFailedAlarm',
        `${THRESHOLDS.pushesFailed} or more pushes to sockets failed (other than 410 Gone) in 5 minutes`,
        RUNBOOK.pushesFailed,
        herald('PushesFailed'),
        THRESHOLDS.pushesFailed,
        topic,
      ),
    );
    add(
      alarmAtLeast(
        this,
        'DeliveryContentionAlarm',
        'deliver() gave up on a hot notification counter and answered 503',
        RUNBOOK.deliveryContention,
        herald('DeliveryContention'),
        THRESHOLDS.deliveryContention,
        topic,
      ),
    );
    add(
      alarmAtLeast(
        this,
        'ExportRunsFailedAlarm',
        'An export run ran out of attempts and was marked failed',
        RUNBOOK.exportRunsFailed,
        herald('ExportRunsFailed'),
        THRESHOLDS.exportRunsFailed,
        topic,
      ),
    );
    add(
      alarmAtLeast(
        this,
        'LinkKeyRotationFailedAlarm',
        'A step of the download-link key rotation failed: the key stays as it was until a rotation succeeds',
        RUNBOOK.linkKeyRotationFailed,
        herald('LinkKeyRotationFailures'),
        THRESHOLDS.linkKeyRotationFailures,
        topic,
      ),
    );

    this.dashboard = this.buildDashboard(resources, { iteratorAge, http5xx, bounceRate, complaintRate, herald });
  }

  private buildDashboard(
    { functions, alertFanout, exports, realtimeApi, httpApi, data }: WatchedResources,
    shared: {
      iteratorAge: IMetric;
      http5xx: IMetric;
      bounceRate: IMetric;
      complaintRate: IMetric;
      herald: (name: string, options?: typeof COUNT_EACH_5_MINUTES) => Metric;
    },
  ): Dashboard {
    const { herald } = shared;
    const perMinute = (name: string) => herald(name, COUNT_EACH_MINUTE);
    const webSocket = (metricName: string, statistic: string) =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: realtimeApi.webSocketApi.apiId, Stage: realtimeApi.stage.stageName },
        period: Duration.minutes(1),
        statistic,
      });
    const graph = (title: string, left: IMetric[], right: IMetric[] = []) => new GraphWidget({ title, left, right, width: 8, height: 6 });
    const allFunctions = Object.entries(functions) as Array<[FunctionName, HeraldFunction]>;
    const functionSum = (metricName: 'Errors' | 'Throttles') =>
      new MathExpression({
        // Ids per metric name: errors and throttles share a graph.
        expression: allFunctions.map(([name]) => `${metricName.toLowerCase()}_${name}`).join(' + '),
        usingMetrics: Object.fromEntries(
          allFunctions.map(([name, fn]) => [`${metricName.toLowerCase()}_${name}`, fn.function.metric(metricName, COUNT_EACH_MINUTE)]),
        ),
        label: `${metricName}, all functions`,
        period: Duration.minutes(1),
      });
    const widgets: IWidget[][] = [
      [
        new TextWidget({
          markdown: `# ${Stack.of(this).stackName}\nEvery alarm's description names its section of docs/runbook.md.`,
          width: 24,
          height: 2,
        }),
      ],
      // Every alarm of the stack: the capabilities' own (failure queue, DLQ) too.
      [
        new AlarmStatusWidget({
          title: 'Alarms',
          alarms: Stack.of(this)
            .node.findAll()
            .filter((c): c is Alarm => c instanceof Alarm),
          width: 24,
          height: 6,
        }),
      ],
      [
        graph('Deliveries', [perMinute('NotificationsDelivered'), perMinute('Resumes')], [perMinute('PushesFailed'), perMinute('DeliveryContention')]),
        graph('Latency (p99, ms)', [
          httpApi.httpApi.metricLatency({ period: Duration.minutes(1), statistic: 'p99' }),
          webSocket('IntegrationLatency', 'p99'),
          functions.publishNotification.function.metricDuration({ period: Duration.minutes(1), statistic: 'p99', label: 'POST /notifications duration' }),
          functions.alertFanout.function.metricDuration({ period: Duration.minutes(1), statistic: 'p99', label: 'alert fan-out duration' }),
        ]),
        graph(
          'Connections',
          [perMinute('ConnectionsOpened'), perMinute('ConnectionsClosed'), webSocket('MessageCount', 'Sum')],
          [perMinute('FramesRateLimited')],
        ),
      ],
      [
        graph(
          'Alert fan-out',
          [perMinute('AlertChangesFannedOut'), perMinute('AlertEmailsSent'), alertFanout.failureQueue.metricNumberOfMessagesSent(COUNT_EACH_MINUTE)],
          [shared.iteratorAge],
        ),
        graph(
          'Exports',
          [herald('ExportRuns_succeeded', COUNT_EACH_MINUTE), perMinute('ExportRunsFailed'), perMinute('ExportAttemptsFailed')],
          [exports.queue.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' })],
        ),
        graph('Email (%)', [shared.bounceRate, shared.complaintRate]),
      ],
      [
        graph('Errors', [functionSum('Errors'), shared.http5xx, webSocket('IntegrationError', 'Sum')], [functionSum('Throttles')]),
        graph(
          'DynamoDB throttles',
          Object.entries(data.tables).map(([name, table]) => table.metric('WriteThrottleEvents', { ...COUNT_EACH_MINUTE, label: `${name} writes` })),
        ),
      ],
    ];
    const dashboard = new Dashboard(this, 'Dashboard', { dashboardName: Stack.of(this).stackName, defaultInterval: Duration.hours(3) });
    for (const row of widgets) dashboard.addWidgets(...row);
    return dashboard;
  }
}

/**
 * The DynamoDB operations (CloudWatch's `Operation` dimension) each table sees from Herald: what
 * the description grants, transactions where it writes, GetRecords where a stream is read.
 */
function tableOperationsInUse(data: HeraldData): Record<TableName, string[]> {
  const used = Object.fromEntries(Object.keys(data.tables).map((name) => [name, new Set<string>()])) as Record<TableName, Set<string>>;
  for (const [, spec] of functionSpecs()) {
    for (const [table, access] of Object.entries(spec.tables ?? {}) as Array<[TableName, Parameters<typeof tableOperations>[0]]>) {
      for (const operation of tableOperations(access)) used[table].add(operation === 'QueryIndex' ? 'Query' : operation);
      if (tableOperations(access).some((operation) => operation === 'PutItem' || operation === 'UpdateItem' || operation === 'DeleteItem')) {
        used[table].add('TransactWriteItems');
      }
    }
    if (spec.trigger.kind === 'stream') used[spec.trigger.table].add('GetRecords');
  }
  return Object.fromEntries(Object.entries(used).map(([name, operations]) => [name, [...operations].sort()])) as Record<TableName, string[]>;
}
