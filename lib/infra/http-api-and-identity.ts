import { Duration, RemovalPolicy, Stack, type CfnResource } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CorsHttpMethod, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, type HttpRoute } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { AccountRecovery, ClientAttributes, FeaturePlan, Mfa, StringAttribute, UserPool, type UserPoolClient } from 'aws-cdk-lib/aws-cognito';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { corsPolicy, type HttpMethod as DescribedMethod } from '../description';
import { acknowledge } from './nag';
import { InvalidPropsError, requireMatch, requireThrottle, withDefaults, type Throttle } from './support';

/** An OIDC provider whose ID tokens the HTTP API accepts. */
export interface JwtIssuer {
  /** The issuer URL (`iss`), https. */
  readonly issuer: string;
  /** The audience (`aud`, the client id) tokens must carry. */
  readonly audience: string;
}

export interface HttpApiAndIdentityProps {
  /**
   * The API's name in API Gateway.
   * @default `<stack name>-http`
   */
  readonly apiName?: string;
  /**
   * Who may call the API: the OIDC provider whose JWTs it trusts.
   * @default a Cognito user pool and app client created here (admin-created users, TOTP, an immutable `tenant` attribute)
   */
  readonly jwt?: JwtIssuer;
  /**
   * Browser origins allowed to call the API (CORS), matched exactly as browsers send them.
   * @default none: no CORS configuration
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * Throttling of the stage.
   * @default 500 requests per second, bursts of 1000
   */
  readonly throttle?: Throttle;
  /**
   * Retention of the stage's access log.
   * @default one month
   */
  readonly accessLogRetention?: RetentionDays;
}

export interface HttpRouteOptions {
  /**
   * Serve the route without a JWT, for callers that hold none (an emailed link, say); the handler
   * then authenticates the request itself, and `reason` says how (it acknowledges cdk-nag's APIG4).
   * @default none: the JWT authorizer guards the route
   */
  readonly withoutJwt?: { readonly reason: string };
  /**
   * The construct id of the route's Lambda integration.
   * @default `<method><path, letters and digits only>Integration`
   */
  readonly integrationId?: string;
}

const DEFAULTS = {
  allowedOrigins: [] as readonly string[],
  throttle: { rateLimit: 500, burstLimit: 1000 },
  accessLogRetention: RetentionDays.ONE_MONTH,
} satisfies Partial<HttpApiAndIdentityProps>;

/**
 * The HTTP API and who may call it: a `$default` stage with JSON access logs and throttling, CORS
 * for the allowed origins, and a JWT authorizer that trusts the configured OIDC provider, or a
 * Cognito user pool created here when none is configured.
 */
export class HttpApiAndIdentity extends Construct {
  public readonly httpApi: HttpApi;
  /** The `$default` stage; `stage.url` is the API's base URL. */
  public readonly stage: HttpStage;
  public readonly accessLogGroup: LogGroup;
  /** The authorizer every route but `withoutJwt` ones uses. */
  public readonly authorizer: HttpJwtAuthorizer;
  public readonly allowedOrigins: readonly string[];
  /** Present only when no `jwt` issuer is given. */
  public readonly userPool?: UserPool;
  /** Present only when no `jwt` issuer is given; tokens carry its id as `aud`. */
  public readonly userPoolClient?: UserPoolClient;

  constructor(scope: Construct, id: string, props: HttpApiAndIdentityProps = {}) {
    super(scope, id);
    const merged = withDefaults({ ...DEFAULTS, apiName: `${Stack.of(this).stackName}-http` }, props);
    requireThrottle(this, merged.throttle);
    if (merged.jwt) {
      requireMatch(this, 'jwt.issuer', merged.jwt.issuer, /^https:\/\/[^\s/]+/, 'an https URL');
      requireMatch(this, 'jwt.audience', merged.jwt.audience, /^\S+$/, 'a client id');
    }
    for (const origin of merged.allowedOrigins) {
      const parsed = URL.canParse(origin) ? new URL(origin).origin : undefined;
      if (parsed !== origin)
        throw new InvalidPropsError(this, 'allowedOrigins', `has "${origin}", which is not an origin as browsers send it (such as https://app.example.com).`);
    }
    this.allowedOrigins = merged.allowedOrigins;

    // The construct ids below are the ones these resources have always had in the Herald stack.
    if (merged.jwt) {
      this.authorizer = new HttpJwtAuthorizer('JwtAuthorizer', merged.jwt.issuer, { jwtAudience: [merged.jwt.audience] });
    } else {
      const { userPool, userPoolClient } = this.createUserPool();
      this.userPool = userPool;
      this.userPoolClient = userPoolClient;
      // ID tokens carry custom:tenant and aud = the client id; API Gateway checks both issuer and aud.
      this.authorizer = new HttpJwtAuthorizer('JwtAuthorizer', `https://${userPool.userPoolProviderUrl}`, {
        jwtAudience: [userPoolClient.userPoolClientId],
      });
    }
    this.httpApi = new HttpApi(this, 'HttpApi', {
      apiName: merged.apiName,
      description: 'Herald HTTP API',
      createDefaultStage: false,
      corsPreflight:
        merged.allowedOrigins.length === 0
          ? undefined
          : {
              allowOrigins: [...merged.allowedOrigins],
              allowMethods: corsPolicy.allowMethods.map((method) => CorsHttpMethod[method]),
              allowHeaders: [...corsPolicy.allowHeaders],
              exposeHeaders: [...corsPolicy.exposeHeaders],
              maxAge: Duration.seconds(corsPolicy.maxAgeSeconds),
            },
    });
    this.accessLogGroup = new LogGroup(this, 'HttpAccessLogs', { retention: merged.accessLogRetention });
    this.stage = new HttpStage(this, 'HttpStage', {
      httpApi: this.httpApi,
      autoDeploy: true,
      throttle: merged.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogGroup),
        // The route key rather than the path: a download link carries its token in the query string.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            requestTime: '$context.requestTimeEpoch',
            routeKey: '$context.routeKey',
            status: '$context.status',
            responseLength: '$context.responseLength',
            integrationError: '$context.integrationErrorMessage',
            authorizerError: '$context.authorizer.error',
          }),
        ),
      },
    });
  }

  /** Routes `method path` to `handler`, behind the JWT authorizer unless `withoutJwt` says why not. */
  public addRoute(method: DescribedMethod, path: string, handler: IFunction, options: HttpRouteOptions = {}): HttpRoute {
    const { withoutJwt } = options;
    if (withoutJwt !== undefined && withoutJwt.reason.trim().length < 20) {
      throw new InvalidPropsError(this, 'withoutJwt.reason', `of ${method} ${path} must say how the handler authenticates its callers.`);
    }
    const [route] = this.httpApi.addRoutes({
      path,
      methods: [HttpMethod[method]],
      integration: new HttpLambdaIntegration(options.integrationId ?? `${method}${path.replace(/[^A-Za-z0-9]/g, '')}Integration`, handler),
      authorizer: withoutJwt ? undefined : this.authorizer,
    });
    if (route === undefined) throw new Error(`HttpApi.addRoutes made no route for ${method} ${path}`);
    if (withoutJwt) acknowledge(route.node.defaultChild as CfnResource, 'APIG4', withoutJwt.reason);
    return route;
  }

  /** The zero-config identity: a Cognito pool whose admins create users, each in one tenant. */
  private createUserPool(): { userPool: UserPool; userPoolClient: UserPoolClient } {
    const pool = new UserPool(this, 'UserPool', {
      selfSignUpEnabled: false,
      signInAliases: { email: true },
      autoVerify: { email: true },
      accountRecovery: AccountRecovery.EMAIL_ONLY,
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      // Required for every user, admins included: Cognito has no per-group MFA, and an admin is any
      // user an administrator adds to the group, so only a pool-wide rule reaches every admin
      // (docs/operations.md, "Sign-in and MFA"). TOTP only: SMS would need an SNS role and
      // per-message cost, and is the weaker factor.
      mfa: Mfa.REQUIRED,
      mfaSecondFactor: { sms: false, otp: true },
      featurePlan: FeaturePlan.ESSENTIALS,
      // Users and their tenants live only here: a stack deletion retains the pool (CDK's default
      // for pools), and deletion protection stops a stray DeleteUserPool (docs/deploy.md).
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      // Immutable, and admins set it when they create a user (self sign-up is off), so a user
      // can never move themselves into another tenant.
      customAttributes: { tenant: new StringAttribute({ minLen: 1, maxLen: 64, mutable: false }) },
    });
    const cfnPool = pool.node.defaultChild as CfnResource;
    acknowledge(
      cfnPool,
      'COG8',
      'The Plus tier (threat protection) is billed per monthly active user; this pool is the zero-config default, and a deployment that needs threat protection brings its own OIDC provider through jwtIssuer/jwtAudience.',
    );
    const client = pool.addClient('WebClient', {
      authFlows: { userSrp: true },
      disableOAuth: true,
      generateSecret: false,
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.days(30),
      readAttributes: new ClientAttributes().withStandardAttributes({ email: true, emailVerified: true, fullname: true }).withCustomAttributes('tenant'),
      writeAttributes: new ClientAttributes().withStandardAttributes({ fullname: true }),
    });
    return { userPool: pool, userPoolClient: client };
  }
}
