import type { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { functions } from '#lib/description';
import { SKIP_BUNDLING, synthesize } from './synth';

type Resource = { Type: string; Properties: Record<string, any> };
type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

let template: Template;
beforeAll(() => {
  ({ template } = synthesize(SKIP_BUNDLING));
}, 120_000);

const resourcesOf = (type: string) => Object.entries(template.findResources(type) as Record<string, Resource>);
const actionsOf = (statements: Statement[]) => statements.flatMap((statement) => [statement.Action].flat());
/** The statements of the role of the function the description calls `name`. */
function statementsOf(name: keyof typeof functions): Statement[] {
  const [, lambda] = resourcesOf('AWS::Lambda::Function').find(([, fn]) => fn.Properties.Description === functions[name].description)!;
  const roleId = lambda.Properties.Role['Fn::GetAtt'][0] as string;
  return resourcesOf('AWS::IAM::Policy')
    .filter(([, policy]) => JSON.stringify(policy.Properties.Roles).includes(roleId))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[]);
}
const tableArn = (statement: Statement) => JSON.stringify(statement.Resource);

describe('least privilege in the template', () => {
  it('grants no Scan, BatchWriteItem, DescribeTable or stream reads of a table to any function but the stream consumers', () => {
    const all = resourcesOf('AWS::IAM::Policy').flatMap(([, policy]) => actionsOf(policy.Properties.PolicyDocument.Statement));
    for (const action of [
      'dynamodb:Scan',
      'dynamodb:BatchWriteItem',
      'dynamodb:DescribeTable',
      'ses:SendRawEmail',
      'scheduler:GetSchedule',
      'secretsmanager:GetRandomPassword',
      'sqs:GetQueueUrl',
      'sqs:ChangeMessageVisibility',
    ]) {
      expect(all, action).not.toContain(action);
    }
    const streamReaders = Object.keys(functions).filter((name) => actionsOf(statementsOf(name as keyof typeof functions)).includes('dynamodb:GetRecords'));
    expect(streamReaders).toEqual(['alertFanout', 'notifyRecordAssignees']);
    // Each reads its own table's stream only.
    const streamsOf = (name: keyof typeof functions) =>
      statementsOf(name)
        .filter((statement) => [statement.Action].flat().includes('dynamodb:GetRecords'))
        .map((statement) => JSON.stringify(statement.Resource));
    expect(streamsOf('alertFanout').join()).toMatch(/Alerts/);
    expect(streamsOf('alertFanout').join()).not.toMatch(/Records/);
    expect(streamsOf('notifyRecordAssignees').join()).toMatch(/Records/);
    expect(streamsOf('notifyRecordAssignees').join()).not.toMatch(/Alerts/);
  });

  it('lets only the rotation function describe or change the link key; the others only read it', () => {
    for (const action of ['secretsmanager:DescribeSecret', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage']) {
      const holders = Object.keys(functions).filter((name) => actionsOf(statementsOf(name as keyof typeof functions)).includes(action));
      expect(holders, action).toEqual(['rotateExportLinkKey']);
    }
  });

  it('lets the $connect authorizer only consume tickets, and the ticket issuer only put them and count them', () => {
    const ticketActions = (name: keyof typeof functions) =>
      statementsOf(name)
        .filter((statement) => tableArn(statement).includes('TicketsTable'))
        .flatMap((statement) => [statement.Action].flat());
    expect(ticketActions('wsAuthorizer')).toEqual(['dynamodb:DeleteItem']);
    // UpdateItem: the user's ticket counter per minute (functions/adapters/dynamo-ticket-store.ts).
    expect(ticketActions('issueTicket').sort()).toEqual(['dynamodb:PutItem', 'dynamodb:UpdateItem']);
  });

  it('gives ping and $default no UserConnections access, and disconnect and unsubscribe no Memberships access', () => {
    for (const name of ['wsPing', 'wsDefault'] as const) expect(JSON.stringify(statementsOf(name))).not.toContain('UserConnectionsTable');
    for (const name of ['wsDisconnect', 'wsUnsubscribe'] as const) expect(JSON.stringify(statementsOf(name))).not.toContain('MembershipsTable');
  });

  it('lets the export worker write the Notifications table, which deliver() needs', () => {
    const onNotifications = statementsOf('exportWorker').filter((statement) =>
      /NotificationsTable[^"]*\.Arn"|NotificationsTable[^"]*","Arn"/.test(tableArn(statement)),
    );
    expect(actionsOf(onNotifications)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query']));
  });

  it('lets Scheduler assume its role only for this account and Herald schedule group', () => {
    const [, role] = resourcesOf('AWS::IAM::Role').find(([, r]) => JSON.stringify(r.Properties.AssumeRolePolicyDocument).includes('scheduler.amazonaws.com'))!;
    const [statement] = role.Properties.AssumeRolePolicyDocument.Statement;
    expect(statement.Condition.StringEquals).toHaveProperty('aws:SourceAccount');
    expect(JSON.stringify(statement.Condition.ArnEquals['aws:SourceArn'])).toContain(':schedule-group/Herald-exports"');
  });
});
