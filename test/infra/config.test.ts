import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '#lib/config';
import { buildHeraldApp } from '#lib/infra/herald-stack';

// Each case fails in readConfig, before any function is bundled, so nothing here synthesizes.
const configErrorOf = (run: () => unknown): ConfigError => {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
};

describe('deployment context', () => {
  it('rejects an origin that is not exactly as browsers send it, naming allowedOrigins', () => {
    const error = configErrorOf(() => buildHeraldApp({ allowedOrigins: ['https://app.example.com/'] }));
    expect(error.message).toContain('"allowedOrigins"');
    expect(error.message).toContain('"https://app.example.com"');
  });

  it('rejects a value that is no origin at all', () => {
    expect(configErrorOf(() => buildHeraldApp({ allowedOrigins: 'app.example.com' })).message).toContain('"allowedOrigins"');
  });

  it('rejects jwtIssuer without jwtAudience and the reverse, naming both', () => {
    for (const context of [{ jwtIssuer: 'https://login.example.com' }, { jwtAudience: 'herald-web' }]) {
      const { message } = configErrorOf(() => buildHeraldApp(context));
      expect(message).toContain('"jwtIssuer"');
      expect(message).toContain('"jwtAudience"');
    }
  });

  it('rejects a retention CloudWatch does not offer, naming logRetentionDays', () => {
    expect(configErrorOf(() => buildHeraldApp({ logRetentionDays: 10 })).message).toContain('"logRetentionDays"');
  });

  it('rejects a notification retention beyond a year or not a whole number, naming notificationRetentionDays', () => {
    for (const value of [366, 0, '30 days']) {
      expect(configErrorOf(() => buildHeraldApp({ notificationRetentionDays: value })).message).toContain('"notificationRetentionDays"');
    }
  });

  it('names the renamed exportSender and its new name, so an old cdk.json fails clearly', () => {
    const { message } = configErrorOf(() => buildHeraldApp({ exportSender: 'exports@example.com' }));
    expect(message).toContain('"exportSender"');
    expect(message).toContain('"emailSender"');
  });

  it('reads exportRecords as an object or JSON text, and names each bad field', () => {
    const { config } = buildHeraldApp({
      emailSender: 'a@example.com',
      alarmEmail: 'ops@example.com',
      exportRecords: '{"table":"WorkOrders","tenantKey":"tenantId"}',
      'aws:cdk:bundling-stacks': [],
    });
    expect(config.exportRecords).toEqual({ table: 'WorkOrders', tenantKey: 'tenantId' });
    const cases: Array<[unknown, string]> = [
      ['{not json', '"exportRecords"'],
      [{ table: 'WorkOrders' }, '"exportRecords.tenantKey"'],
      [{ table: 'x', tenantKey: 'tenantId' }, '"exportRecords.table"'],
      [{ table: 'WorkOrders', tenantKey: 'tenantId', sortKey: 'a b' }, '"exportRecords.sortKey"'],
      [{ table: 'WorkOrders', tenantKey: 'tenantId', index: 'byDate' }, 'unknown field "index"'],
    ];
    for (const [value, named] of cases) expect(configErrorOf(() => buildHeraldApp({ exportRecords: value })).message).toContain(named);
  });

  it('reads exportRecipientDomains and exportRecords.role into the functions settings, and names a bad value', () => {
    const { config, stack } = buildHeraldApp({
      emailSender: 'a@example.com',
      alarmEmail: 'ops@example.com',
      exportRecipientDomains: 'Example.com, partner.example',
      exportRecords: { table: 'WorkOrders', tenantKey: 'tenantId', role: 'records-export' },
      'aws:cdk:bundling-stacks': [],
    });
    expect(config.exportRecipientDomains).toEqual(['example.com', 'partner.example']);
    expect(JSON.parse(stack.functions.settings.exportRecipientDomains)).toEqual(['example.com', 'partner.example']);
    expect(JSON.parse(stack.functions.settings.exportRecords)).toMatchObject({ role: 'records-export' });
    expect(
      buildHeraldApp({ emailSender: 'a@example.com', alarmEmail: 'ops@example.com', 'aws:cdk:bundling-stacks': [] }).stack.functions.settings
        .exportRecipientDomains,
    ).toBe('[]');
    for (const [context, named] of [
      [{ exportRecipientDomains: ['*.example.com'] }, '"exportRecipientDomains" has "*.example.com"'],
      [{ exportRecipientDomains: 'ops@example.com' }, '"exportRecipientDomains" has "ops@example.com"'],
      [{ exportRecords: { table: 'WorkOrders', tenantKey: 'tenantId', role: 'two words' } }, '"exportRecords.role"'],
    ] as const) {
      expect(configErrorOf(() => buildHeraldApp(context)).message).toContain(named);
    }
  });

  it('rejects an alarmTopicArn that is not an SNS topic ARN', () => {
    expect(configErrorOf(() => buildHeraldApp({ alarmTopicArn: 'ops-pager' })).message).toContain('"alarmTopicArn"');
  });

  it('rejects a stack name CloudFormation or the Scheduler group name would refuse, naming stackName', () => {
    for (const value of ['herald_prod', '-Herald', 'H'.repeat(57)]) {
      expect(configErrorOf(() => buildHeraldApp({ emailSender: 'a@example.com', stackName: value })).message).toContain('"stackName"');
    }
  });

  it('rejects opt-ins that are not true or false, naming each', () => {
    for (const key of ['createApiGatewayAccountRole', 'exportsBucketAutoDelete', 'createEmailIdentity']) {
      expect(configErrorOf(() => buildHeraldApp({ emailSender: 'a@example.com', [key]: 'on' })).message).toContain(`"${key}"`);
    }
  });

  it('rejects realtime caps that are not whole numbers in range, naming each', () => {
    for (const [key, value] of [
      ['socketsPerUser', 0],
      ['socketsPerUser', 1001],
      ['socketsPerUser', 'thirty'],
      ['ticketsPerMinute', -1],
      ['ticketsPerMinute', 10_001],
    ] as const) {
      expect(configErrorOf(() => buildHeraldApp({ emailSender: 'a@example.com', [key]: value })).message).toContain(`"${key}"`);
    }
  });

  it('gives the realtime caps from context to the ticket route and $connect, and nowhere else', () => {
    const { stack, config } = buildHeraldApp(
      { emailSender: 'a@example.com', alarmEmail: 'ops@example.com', socketsPerUser: '5', ticketsPerMinute: 7, 'aws:cdk:bundling-stacks': [] },
      { nagChecks: false },
    );
    expect(config).toMatchObject({ socketsPerUser: 5, ticketsPerMinute: 7 });
    const functions = Object.entries(Template.fromStack(stack).findResources('AWS::Lambda::Function')).map(
      ([id, resource]) => [id, resource.Properties.Environment?.Variables ?? {}] as [string, Record<string, string>],
    );
    const withCap = (variable: string) =>
      functions
        .filter(([, variables]) => variable in variables)
        .map(([id, variables]) => `${id.includes('IssueTicket') ? 'IssueTicket' : id.includes('WsConnect') ? 'WsConnect' : id}=${variables[variable]}`)
        .sort();
    expect(withCap('SOCKETS_PER_USER')).toEqual(['IssueTicket=5', 'WsConnect=5']);
    expect(withCap('TICKETS_PER_MINUTE')).toEqual(['IssueTicket=7']);
  });

  it('rejects a sender identity domain the sender is not at', () => {
    const { message } = configErrorOf(() => buildHeraldApp({ emailSender: 'herald@example.org', emailIdentityDomain: 'example.com' }));
    expect(message).toContain('"emailIdentityDomain"');
    expect(message).toContain('herald@example.org');
  });
});
