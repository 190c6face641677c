import { describe, expect, it } from 'vitest';
import { ConfigError, readConfig, requireAlarmTarget } from '#lib/config';
import { requireEnv, stringListEnv } from '#functions/shared/config';

const context = (values: Record<string, unknown>) => (key: string) => values[key];

describe('readConfig (cdk.json context)', () => {
  it('defaults to a Cognito pool with its claim names', () => {
    const config = readConfig(context({}));
    expect(config).toMatchObject({
      jwtIssuer: undefined,
      tenantClaim: 'custom:tenant',
      rolesClaim: 'cognito:groups',
      allowedOrigins: [],
      logRetentionDays: 30,
    });
  });

  it('uses an OIDC issuer with plain claim names when given', () => {
    const config = readConfig(
      context({ jwtIssuer: 'https://id.example.com', jwtAudience: 'herald', allowedOrigins: 'https://app.example.com, https://ops.example.com' }),
    );
    expect(config).toMatchObject({ tenantClaim: 'tenant', rolesClaim: 'roles', allowedOrigins: ['https://app.example.com', 'https://ops.example.com'] });
  });

  it.each([
    [{ jwtIssuer: 'https://id.example.com' }, 'jwtAudience'],
    [{ jwtIssuer: 'http://id.example.com', jwtAudience: 'a' }, 'jwtIssuer'],
    [{ allowedOrigins: ['https://app.example.com/'] }, 'allowedOrigins'],
    [{ allowedOrigins: ['not a url'] }, 'allowedOrigins'],
    [{ logRetentionDays: 10 }, 'logRetentionDays'],
    [{ throttleRateLimit: -1 }, 'throttleRateLimit'],
    [{ stackName: '1Herald' }, 'stackName'],
    [{ stackName: 'Herald_Staging' }, 'stackName'],
    [{ stackName: `H${'x'.repeat(56)}` }, 'stackName'],
    [{ stackName: 42 }, 'stackName'],
    [{ createApiGatewayAccountRole: 'yes' }, 'createApiGatewayAccountRole'],
    [{ createApiGatewayAccountRole: 1 }, 'createApiGatewayAccountRole'],
    [{ exportsBucketAutoDelete: 'TRUE ' }, 'exportsBucketAutoDelete'],
    [{ createEmailIdentity: 'no' }, 'createEmailIdentity'],
    [{ alarmEmail: 'ops' }, 'alarmEmail'],
    [{ alarmEmail: 'ops@example.com\r\nBcc: x@y.example' }, 'alarmEmail'],
    [{ alarmEmail: 'ops@example.com', alarmTopicArn: 'arn:aws:sns:eu-west-1:123456789012:ops' }, 'alarmTopicArn'],
    [{ emailIdentityDomain: 'https://example.com' }, 'emailIdentityDomain'],
    [{ emailIdentityDomain: 'localhost' }, 'emailIdentityDomain'],
    [{ emailSender: 'herald@example.org', emailIdentityDomain: 'example.com' }, 'emailIdentityDomain'],
    [{ emailSender: 'herald@notexample.com', emailIdentityDomain: 'example.com' }, 'emailIdentityDomain'],
    [{ emailSender: 'herald@example.com', emailIdentityDomain: 'example.com', createEmailIdentity: false }, 'createEmailIdentity'],
    [{ recordCollections: { inspections: { fields: { status: 'first-wins' } } } }, 'recordCollections'],
    [{ recordCollections: { inspections: { fields: { 'bad name': 'manual' } } } }, 'recordCollections'],
    [{ recordCollections: { inspections: { fields: { items: 'merge-by-id' }, assigneeField: 'items' } } }, 'recordCollections'],
    [{ recordCollections: '{"inspections": ' }, 'recordCollections'],
    [{ recordRetentionDays: 400 }, 'recordRetentionDays'],
    [{ recordRetentionDays: 0 }, 'recordRetentionDays'],
  ])('refuses %j naming %s', (values, key) => {
    expect(() => readConfig(context(values))).toThrow(ConfigError);
    expect(() => readConfig(context(values))).toThrow(key);
  });

  it('defaults the deploy settings to the stack Herald, no account-wide resources, retained files and an address identity', () => {
    expect(readConfig(context({}))).toMatchObject({
      stackName: 'Herald',
      createApiGatewayAccountRole: false,
      exportsBucketAutoDelete: false,
      createEmailIdentity: true,
      emailIdentityDomain: undefined,
    });
  });

  it('reads booleans from cdk.json (true) and from -c (the text "true" or "false")', () => {
    expect(readConfig(context({ createApiGatewayAccountRole: true, exportsBucketAutoDelete: 'true', createEmailIdentity: 'false' }))).toMatchObject({
      createApiGatewayAccountRole: true,
      exportsBucketAutoDelete: true,
      createEmailIdentity: false,
    });
  });

  it('reads record collections from cdk.json (an object) and from -c (JSON text), none by default', () => {
    const declared = { inspections: { fields: { status: 'server-wins', items: 'merge-by-id', verdict: 'manual' }, assigneeField: 'assigneeId' } };
    expect(readConfig(context({ recordCollections: declared }))).toMatchObject({ recordCollections: declared, recordRetentionDays: 30 });
    expect(readConfig(context({ recordCollections: JSON.stringify(declared), recordRetentionDays: '7' }))).toMatchObject({
      recordCollections: declared,
      recordRetentionDays: 7,
    });
    expect(readConfig(context({})).recordCollections).toEqual({});
  });

  it("takes a sender domain identity for the sender's own domain or a parent of it, in any case", () => {
    expect(readConfig(context({ emailSender: 'herald@example.com', emailIdentityDomain: 'example.com' })).emailIdentityDomain).toBe('example.com');
    expect(readConfig(context({ emailSender: 'herald@alerts.Example.com', emailIdentityDomain: 'EXAMPLE.com' })).emailIdentityDomain).toBe('example.com');
    expect(readConfig(context({ stackName: 'Herald-staging-2' })).stackName).toBe('Herald-staging-2');
  });
});

describe('requireAlarmTarget', () => {
  it('is the address to subscribe, or the existing topic, and fails naming both settings when neither is set', () => {
    expect(requireAlarmTarget(readConfig(context({ alarmEmail: 'ops@example.com' })))).toEqual({ email: 'ops@example.com' });
    const topicArn = 'arn:aws:sns:eu-west-1:123456789012:ops';
    expect(requireAlarmTarget(readConfig(context({ alarmTopicArn: topicArn })))).toEqual({ topicArn });
    expect(() => requireAlarmTarget(readConfig(context({})))).toThrow(ConfigError);
    expect(() => requireAlarmTarget(readConfig(context({})))).toThrow(/"alarmEmail" nor "alarmTopicArn".*docs\/deploy\.md/);
  });
});

describe('function environment', () => {
  it('names every missing variable at once', () => {
    expect(() => requireEnv(['A_TABLE', 'B_TABLE'], { A_TABLE: '' })).toThrow('Missing environment variables: A_TABLE, B_TABLE');
    expect(requireEnv(['A_TABLE'], { A_TABLE: 't' })).toEqual({ A_TABLE: 't' });
  });

  it('reads list settings as JSON so an empty list is a value', () => {
    expect(stringListEnv('ALLOWED_ORIGINS', '[]')).toEqual([]);
    expect(() => stringListEnv('ALLOWED_ORIGINS', 'https://a.example')).toThrow('ALLOWED_ORIGINS');
  });
});
