import { Match, type Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functions, functionSpecs, tables } from '#lib/description';
import { synthesize, type ValidationReport } from './synth';

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };

let template: Template;
let report: ValidationReport;

// Synthesis bundles every function (40 with the records routes) and runs cdk-nag: minutes on a loaded machine.
beforeAll(() => {
  ({ template, report } = synthesize());
}, 300_000);

const resourcesOf = (type: string) => Object.entries(template.findResources(type) as Record<string, Resource>);
const logicalIdOf = (type: string, match: (properties: Record<string, any>) => boolean): string => {
  const found = resourcesOf(type).filter(([, resource]) => match(resource.Properties));
  expect(found).toHaveLength(1);
  return found[0]![0];
};

describe('functions', () => {
  it('builds one Lambda per described function, on nodejs22.x and ARM64, traced, with its own retained logs', () => {
    const lambdas = resourcesOf('AWS::Lambda::Function');
    expect(lambdas.map(([, fn]) => fn.Properties.Description).sort()).toEqual(
      functionSpecs()
        .map(([, spec]) => spec.description)
        .sort(),
    );
    const logGroups = template.findResources('AWS::Logs::LogGroup') as Record<string, Resource>;
    for (const [, fn] of lambdas) {
      const spec = functionSpecs().find(([, candidate]) => candidate.description === fn.Properties.Description)![1];
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Timeout: spec.timeoutSeconds ?? 10,
        MemorySize: spec.memoryMb ?? 256,
        Environment: {
          Variables: {
            NODE_OPTIONS: '--enable-source-maps',
            POWERTOOLS_SERVICE_NAME: 'herald',
            POWERTOOLS_METRICS_NAMESPACE: 'Herald',
          },
        },
      });
      const logGroup = logGroups[fn.Properties.LoggingConfig.LogGroup.Ref];
      expect(logGroup?.Properties.RetentionInDays).toBe(30);
    }
  });

  it('gives each function the environment its spec asks for, and no other table', () => {
    for (const [, spec] of functionSpecs()) {
      const [, fn] = resourcesOf('AWS::Lambda::Function').find(([, f]) => f.Properties.Description === spec.description)!;
      const variables = Object.keys(fn.Properties.Environment.Variables);
      const tableVars: string[] = Object.values(tables).map((table) => table.envVar);
      const expected = Object.keys(spec.tables ?? {}).map((table) => tables[table as keyof typeof tables].envVar);
      expect(variables.filter((name) => tableVars.includes(name)).sort()).toEqual(expected.sort());
    }
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('single-use 30-second'),
      Environment: {
        Variables: Match.objectLike({
          TICKET_TTL_SECONDS: '30',
          TENANT_CLAIM: 'custom:tenant',
          ROLES_CLAIM: 'cognito:groups',
          WEBSOCKET_URL: { 'Fn::Join': ['', Match.arrayWith(['wss://', '/live'])] },
          // The realtime caps' defaults (docs/protocol.md, "Limits").
          SOCKETS_PER_USER: '30',
          TICKETS_PER_MINUTE: '60',
        }),
      },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'Records an authorized WebSocket connection',
      Environment: { Variables: Match.objectLike({ CONNECTION_TTL_SECONDS: String(2 * 3600 + 600), SOCKETS_PER_USER: '30' }) },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: functions.publishNotification.description,
      Environment: { Variables: Match.objectLike({ NOTIFICATION_RETENTION_DAYS: '30', DEDUPE_TABLE: Match.anyValue() }) },
    });
  });

  it('gives Lambda roles no managed policies and no wildcard resource except for X-Ray and ListStreams', () => {
    for (const [, role] of resourcesOf('AWS::IAM::Role')) {
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
    // Neither supports resource-level permissions; a stream trigger needs ListStreams.
    const unscoped = ['xray:PutTelemetryRecords', 'xray:PutTraceSegments', 'dynamodb:ListStreams'];
    for (const [, policy] of resourcesOf('AWS::IAM::Policy')) {
      for (const statement of policy.Properties.PolicyDocument.Statement) {
        if (statement.Resource === '*') {
          for (const action of [statement.Action].flat()) expect(unscoped).toContain(action);
        }
      }
    }
  });
});

describe('tables', () => {
  const tableWithKeys = (...keys: string[]) => {
    const [, table] = resourcesOf('AWS::DynamoDB::Table').find(
      ([, t]) => t.Properties.KeySchema.map((key: { AttributeName: string }) => key.AttributeName).join(',') === keys.join(','),
    )!;
    return table;
  };

  it('makes the Connections table on-demand, recoverable, retained and expiring on expiresAt', () => {
    const connections = tableWithKeys('connectionId');
    expect(connections.DeletionPolicy).toBe('Retain');
    expect(connections.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('keys Notifications by user and seq, with consistent-readable local indexes by id and (sparse) unread', () => {
    const notifications = tableWithKeys('userKey', 'seq');
    expect(notifications.Properties).toMatchObject({
      AttributeDefinitions: expect.arrayContaining([{ AttributeName: 'seq', AttributeType: 'N' }]),
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      LocalSecondaryIndexes: [
        {
          IndexName: 'byId',
          KeySchema: [
            { AttributeName: 'userKey', KeyType: 'HASH' },
            { AttributeName: 'id', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        {
          IndexName: 'unread',
          KeySchema: [
            { AttributeName: 'userKey', KeyType: 'HASH' },
            { AttributeName: 'unreadSeq', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: ['expiresAt'] },
        },
      ],
    });
  });

  it('builds every described table', () => {
    expect(resourcesOf('AWS::DynamoDB::Table')).toHaveLength(Object.keys(tables).length);
  });
});

describe('WebSocket API', () => {
  it('selects routes by the frame action', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: '$request.body.action',
    });
  });

  it('guards $connect with a REQUEST authorizer on the ticket query parameter', () => {
    const authorizerId = logicalIdOf('AWS::ApiGatewayV2::Authorizer', (p) => p.AuthorizerType === 'REQUEST');
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: ['route.request.querystring.ticket'],
      AuthorizerUri: { 'Fn::Join': ['', Match.arrayWith([{ 'Fn::GetAtt': [Match.stringLikeRegexp('WsAuthorizer'), 'Arn'] }])] },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: '$connect',
      AuthorizationType: 'CUSTOM',
      AuthorizerId: { Ref: authorizerId },
    });
  });

  it('routes $disconnect, ping and $default, answering ping and $default on the socket', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', { RouteKey: '$disconnect', AuthorizationType: 'NONE' });
    for (const routeKey of ['ping', '$default']) {
      template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
        RouteKey: routeKey,
        AuthorizationType: 'NONE',
        RouteResponseSelectionExpression: '$default',
      });
    }
  });

  it('deploys stage live with JSON access logs and throttling', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: 'live',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
        Format: Match.serializedJson(
          Match.objectLike({
            requestId: '$context.requestId',
            connectionId: '$context.connectionId',
            routeKey: '$context.routeKey',
            status: '$context.status',
            eventType: '$context.eventType',
          }),
        ),
      },
    });
  });
});

describe('HTTP API', () => {
  it('authorizes POST /realtime/ticket with a JWT from the Cognito pool it creates', () => {
    const authorizerId = logicalIdOf('AWS::ApiGatewayV2::Authorizer', (p) => p.AuthorizerType === 'JWT');
    const poolId = logicalIdOf('AWS::Cognito::UserPool', () => true);
    const clientId = logicalIdOf('AWS::Cognito::UserPoolClient', () => true);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: {
        Audience: [{ Ref: clientId }],
        Issuer: { 'Fn::Join': ['', ['https://', { 'Fn::GetAtt': [poolId, 'ProviderURL'] }]] },
      },
    });
    template.hasResourceProperties('AWS::ApiGatewayV2::Route', {
      RouteKey: 'POST /realtime/ticket',
      AuthorizationType: 'JWT',
      AuthorizerId: { Ref: authorizerId },
    });
  });

  it('deploys the $default stage with JSON access logs and throttling', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 },
      AccessLogSettings: {
        DestinationArn: { 'Fn::GetAtt': [Match.anyValue(), 'Arn'] },
        Format: Match.serializedJson(Match.objectLike({ requestId: '$context.requestId', routeKey: '$context.routeKey' })),
      },
    });
  });

  it('sets no CORS while allowedOrigins is empty', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { ProtocolType: 'HTTP', CorsConfiguration: Match.absent() });
  });
});

describe('Cognito', () => {
  it('creates an admin-only pool with a strong password policy and an immutable tenant attribute', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: true },
      MfaConfiguration: 'ON',
      EnabledMfas: ['SOFTWARE_TOKEN_MFA'],
      Policies: {
        PasswordPolicy: Match.objectLike({
          MinimumLength: 12,
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        }),
      },
      Schema: Match.arrayWith([Match.objectLike({ Name: 'tenant', AttributeDataType: 'String', Mutable: false })]),
    });
  });

  it('requires TOTP MFA of every user, admins included, so cdk-nag has no COG2 finding to excuse', () => {
    // Cognito has no per-group MFA: only the pool-wide setting reaches every admin (docs/operations.md, "Sign-in and MFA").
    template.hasResourceProperties('AWS::Cognito::UserPool', { MfaConfiguration: 'ON', EnabledMfas: ['SOFTWARE_TOKEN_MFA'] });
    const nag = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions')!;
    const cog2 = [...nag.violations, ...(nag.suppressedViolations ?? [])].filter((finding) => finding.ruleName === 'AwsSolutions-COG2');
    expect(cog2).toEqual([]);
  });

  it('lets users read but never write their tenant', () => {
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      GenerateSecret: false,
      ReadAttributes: Match.arrayWith(['custom:tenant']),
      WriteAttributes: Match.not(Match.arrayWith(['custom:tenant'])),
    });
  });

  it('outputs the URLs and the pool ids', () => {
    for (const output of ['WebSocketUrl', 'HttpApiUrl', 'UserPoolId', 'UserPoolClientId']) {
      template.hasOutput(output, Match.anyValue());
    }
  });
});

describe('cdk-nag', () => {
  const awsSolutions = () => {
    const plugin = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions');
    expect(plugin).toBeDefined();
    return plugin!;
  };

  it('leaves no unacknowledged finding', () => {
    expect(awsSolutions().violations).toEqual([]);
    expect(awsSolutions().conclusion).toBe('success');
  });

  it('acknowledges each finding on exactly one CloudFormation resource, with a reason', () => {
    const suppressed = awsSolutions().suppressedViolations ?? [];
    expect(suppressed.length).toBeGreaterThan(0);
    for (const finding of suppressed) {
      expect(finding.violatingConstructs).toEqual([expect.objectContaining({ constructPath: finding.acknowledgedAt })]);
      expect(finding.violatingConstructs[0]!.constructFqn).toMatch(/\.Cfn[A-Za-z]+$/);
      expect(finding.acknowledgedId).toBe(`AwsSolutions::${finding.ruleName}`);
      expect(finding.reason.length).toBeGreaterThan(40);
    }
  });

  it("acknowledges APIG4 on the WebSocket routes after $connect and the HTTP routes the description marks auth 'none', nowhere else", () => {
    const apig4 = (awsSolutions().suppressedViolations ?? []).filter((f) => f.ruleName === 'AwsSolutions-APIG4');
    expect(apig4.map((f) => f.acknowledgedAt).sort()).toEqual(
      functionSpecs()
        .flatMap(([, { trigger }]) => {
          if (trigger.kind === 'websocket' && trigger.route !== '$connect') return [`Herald/RealtimeApi/WebSocketApi/${trigger.route}-Route/Resource`];
          if (trigger.kind === 'http' && trigger.auth === 'none') {
            return [`Herald/HttpApiAndIdentity/HttpApi/${trigger.method}${trigger.path.replaceAll('/', '--')}/Resource`];
          }
          return [];
        })
        .sort(),
    );
    // Today that is the emailed download link alone, which carries its own signed token.
    expect(apig4.filter((f) => f.acknowledgedAt.includes('HttpApi')).map((f) => f.acknowledgedAt)).toEqual([
      'Herald/HttpApiAndIdentity/HttpApi/GET--exports--runs--{id}--download/Resource',
    ]);
  });

  it('acknowledges IAM5 only for named resources, never a whole rule', () => {
    const iam5 = (awsSolutions().suppressedViolations ?? []).filter((f) => f.ruleName.startsWith('AwsSolutions-IAM5'));
    expect(iam5.length).toBeGreaterThan(0);
    for (const finding of iam5) expect(finding.ruleName).toMatch(/^AwsSolutions-IAM5\[Resource::.+\]$/);
  });
});
