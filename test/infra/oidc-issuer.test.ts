import { Match, type Template } from 'aws-cdk-lib/assertions';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { beforeAll, describe, expect, it } from 'vitest';
import { stringListEnv } from '#functions/shared/config';
import { functions, settingEnvVars, type SettingName } from '#lib/description';
import { HeraldFunction } from '#lib/infra/herald-function';
import { SKIP_BUNDLING, synthesize, type ValidationReport } from './synth';

const ISSUER = 'https://login.example.com/realms/field';
const AUDIENCE = 'herald-web';
const ORIGINS = ['https://app.example.com', 'http://localhost:5173'];

let template: Template;
let report: ValidationReport;

beforeAll(() => {
  ({ template, report } = synthesize(
    { ...SKIP_BUNDLING, jwtIssuer: ISSUER, jwtAudience: AUDIENCE, allowedOrigins: ORIGINS.join(',') },
    // No described function manages connections yet; this one exercises that path.
    (stack) => {
      new HeraldFunction(stack, 'PusherProbe', {
        spec: { ...functions.wsPing, description: 'probe that pushes to connections', manageConnections: true },
        data: stack.data,
        exports: stack.exports,
        email: stack.email,
        realtimeApi: stack.realtimeApi,
        alertFanout: stack.alertFanout,
        settings: Object.fromEntries(Object.keys(settingEnvVars).map((name) => [name, 'x'])) as Record<SettingName, string>,
        logRetention: RetentionDays.ONE_WEEK,
      });
    },
  ));
}, 120_000);

describe('with jwtIssuer and jwtAudience', () => {
  it('trusts the given OIDC provider and creates no Cognito pool', () => {
    template.resourceCountIs('AWS::Cognito::UserPool', 0);
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 0);
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Issuer: ISSUER, Audience: [AUDIENCE] },
    });
    expect(Object.keys(template.findOutputs('*')).sort()).toEqual(['AlarmTopicArn', 'HttpApiUrl', 'WebSocketUrl']);
  });

  it("defaults the claims to the provider's plain names", () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: functions.issueTicket.description,
      Environment: { Variables: Match.objectLike({ TENANT_CLAIM: 'tenant', ROLES_CLAIM: 'roles' }) },
    });
  });

  it('allows the configured origins for CORS and in the $connect check', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: Match.objectLike({ AllowOrigins: ORIGINS }),
    });
    const [authorizer] = Object.values(template.findResources('AWS::Lambda::Function', { Properties: { Description: functions.wsAuthorizer.description } }));
    // Decoded by the function's own reader, so the stack and the handler agree on the encoding.
    expect(stringListEnv('ALLOWED_ORIGINS', authorizer?.Properties.Environment.Variables.ALLOWED_ORIGINS)).toEqual(ORIGINS);
  });
});

describe('a function that manages connections', () => {
  const manageConnections = () =>
    Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>).filter((statement) =>
        [statement.Action].flat().includes('execute-api:ManageConnections'),
      ),
    );

  it('may call only the @connections API of the live stage', () => {
    const statements = manageConnections();
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      const resource = statement.Resource as { 'Fn::Join': [string, unknown[]] };
      expect(resource).not.toBe('*');
      const parts = resource['Fn::Join'][1];
      expect(parts[0]).toBe('arn:');
      expect(parts.at(-1)).toBe('/live/*/@connections/*');
      expect(parts).toContainEqual({ Ref: expect.stringMatching(/WebSocketApi/) });
    }
  });

  it('receives the https callback URL of the stage', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: 'probe that pushes to connections',
      Environment: {
        Variables: Match.objectLike({
          CONNECTIONS_ENDPOINT: {
            'Fn::Join': [
              '',
              ['https://', { Ref: Match.stringLikeRegexp('WebSocketApi') }, '.execute-api.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }, '/live'],
            ],
          },
        }),
      },
    });
  });

  it('passes cdk-nag by acknowledging exactly that wildcard', () => {
    const plugin = report.pluginReports.find((r) => r.pluginName === 'AwsSolutions')!;
    expect(plugin.violations).toEqual([]);
    const probe = (plugin.suppressedViolations ?? []).filter((f) => f.acknowledgedAt.startsWith('Herald/PusherProbe/'));
    expect(probe.map((f) => f.ruleName)).toContainEqual(
      expect.stringMatching(
        /^AwsSolutions-IAM5\[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<\w+>\/live\/\*\/@connections\/\*\]$/,
      ),
    );
  });
});
