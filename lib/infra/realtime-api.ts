import { Stack, type CfnResource } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { LogGroupLogDestination, WebSocketApi, WebSocketStage, type WebSocketRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Grant, IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { routeSelectionExpression, webSocketStageName } from '../description';
import { acknowledge } from './nag';
import { InvalidPropsError, requireThrottle, withDefaults, type Throttle } from './support';

export interface RealtimeApiProps {
  /**
   * The API's name in API Gateway.
   * @default `<stack name>-websocket`
   */
  readonly apiName?: string;
  /**
   * Throttling of the stage (API Gateway throttles per stage; each socket has its own frame budget too).
   * @default 500 requests per second, bursts of 1000
   */
  readonly throttle?: Throttle;
  /**
   * Retention of the stage's access log.
   * @default one month
   */
  readonly accessLogRetention?: RetentionDays;
}

export interface WebSocketRouteOptions {
  /**
   * Answer with the function's return value (route response), as `ping` and `$default` do.
   * @default false
   */
  readonly returnResponse?: boolean;
  /**
   * The construct id of the route's Lambda integration.
   * @default `<route key, letters and digits only>Integration`
   */
  readonly integrationId?: string;
}

export interface ConnectRouteOptions {
  /** The REQUEST authorizer every connection must pass before `handler` records it. */
  readonly authorizer: IFunction;
  /**
   * Where the authorizer finds its credential; API Gateway refuses a connect without it.
   * @default the `ticket` query parameter
   */
  readonly identitySource?: readonly string[];
  /**
   * The construct id of the $connect route's Lambda integration.
   * @default 'ConnectIntegration'
   */
  readonly integrationId?: string;
}

const DEFAULTS = {
  throttle: { rateLimit: 500, burstLimit: 1000 },
  accessLogRetention: RetentionDays.ONE_MONTH,
} satisfies Partial<RealtimeApiProps>;

/**
 * The realtime WebSocket API: clients connect to `wss://…/live`, every connection passes a
 * REQUEST authorizer on $connect (Origin allowlist and single-use ticket, docs/protocol.md), and
 * each frame is routed by its `action`. The stage logs every request as JSON and is throttled.
 */
export class RealtimeApi extends Construct {
  public readonly webSocketApi: WebSocketApi;
  /** The stage `live`: `stage.url` for clients, `stage.callbackUrl` for @connections. */
  public readonly stage: WebSocketStage;
  public readonly accessLogGroup: LogGroup;
  private connectRoute?: WebSocketRoute;

  constructor(scope: Construct, id: string, props: RealtimeApiProps = {}) {
    super(scope, id);
    const merged = withDefaults({ ...DEFAULTS, apiName: `${Stack.of(this).stackName}-websocket` }, props);
    requireThrottle(this, merged.throttle);

    // The construct ids below are the ones these resources have always had in the Herald stack.
    this.webSocketApi = new WebSocketApi(this, 'WebSocketApi', {
      apiName: merged.apiName,
      description: 'Herald realtime notifications',
      routeSelectionExpression,
    });
    this.accessLogGroup = new LogGroup(this, 'WebSocketAccessLogs', { retention: merged.accessLogRetention });
    this.stage = new WebSocketStage(this, 'WebSocketStage', {
      webSocketApi: this.webSocketApi,
      stageName: webSocketStageName,
      autoDeploy: true,
      throttle: merged.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            connectionId: '$context.connectionId',
            routeKey: '$context.routeKey',
            eventType: '$context.eventType',
            status: '$context.status',
            requestTime: '$context.requestTimeEpoch',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
    this.node.addValidation({
      validate: () =>
        this.connectRoute ? [] : ['RealtimeApi has no $connect route: without one API Gateway accepts every connection unauthenticated. Call addConnectRoute.'],
    });
  }

  /** Routes $connect to `handler`, behind the REQUEST authorizer `options.authorizer`. */
  public addConnectRoute(handler: IFunction, options: ConnectRouteOptions): WebSocketRoute {
    if (this.connectRoute) throw new InvalidPropsError(this, '$connect', 'has a route already.');
    const authorizer = new WebSocketLambdaAuthorizer('ConnectAuthorizer', options.authorizer, {
      identitySource: [...(options.identitySource ?? ['route.request.querystring.ticket'])],
    });
    this.connectRoute = this.webSocketApi.addRoute('$connect', {
      integration: new WebSocketLambdaIntegration(options.integrationId ?? 'ConnectIntegration', handler),
      authorizer,
    });
    return this.connectRoute;
  }

  /** Routes the frames whose `action` is `routeKey` (or $disconnect, $default) to `handler`. */
  public addRoute(routeKey: string, handler: IFunction, options: WebSocketRouteOptions = {}): WebSocketRoute {
    if (routeKey === '$connect') throw new InvalidPropsError(this, 'routeKey', '$connect needs its authorizer: call addConnectRoute.');
    const route = this.webSocketApi.addRoute(routeKey, {
      integration: new WebSocketLambdaIntegration(options.integrationId ?? `${routeKey.replace(/[^A-Za-z0-9]/g, '')}Integration`, handler),
      returnResponse: options.returnResponse,
    });
    acknowledge(
      route.node.defaultChild as CfnResource,
      'APIG4',
      'API Gateway allows a WebSocket authorizer only on $connect; every frame on this route arrives on a connection $connect already authorized.',
    );
    return route;
  }

  /** Lets `grantee` post to, read and close this stage's WebSocket connections, and nothing else. */
  public grantManageConnections(grantee: IGrantable): Grant {
    return this.stage.grantManagementApiAccess(grantee);
  }
}
