import { createRequire } from 'node:module';
import { DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { SendEmailCommand, SESClient } from '@aws-sdk/client-ses';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { AccessDeniedException } from '#lib/local/iam/enforcement';
import { LOCAL_EMAIL_CONFIGURATION_SET, LOCAL_EMAIL_SENDER, startLocalRuntime, type LocalRuntime } from '#lib/local/runtime';

/**
 * The local IAM enforcement itself, on a runtime of its own (grants are removed here, which the
 * shared runtime's other files must never see).
 */
describe('local IAM enforcement', () => {
  let runtime: LocalRuntime;
  const log: string[] = [];

  beforeAll(async () => {
    runtime = await startLocalRuntime({ portBase: 0, enforceIam: true, log: (message) => log.push(message) });
  }, 120_000);
  afterAll(() => runtime?.stop());

  const issueTicket = async () => {
    const { token } = (await (
      await fetch(`${runtime.urls.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ tenant: 'acme', user: 'ana' }) })
    ).json()) as { token: string };
    return fetch(`${runtime.urls.httpUrl}/realtime/ticket`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  };

  it('fails a call once its grant is removed from the role, names function, action and resource, and passes again with the grant back', async () => {
    expect((await issueTicket()).status).toBe(200);

    const restore = runtime.iam!.withoutAction('issueTicket', 'dynamodb:PutItem');
    try {
      const refused = await issueTicket();
      expect(refused.status).toBe(500);
      expect(log.find((line) => line.includes('AccessDenied'))).toMatch(
        /issueTicket .* dynamodb:PutItem on arn:aws:dynamodb:us-east-1:000000000000:table\/herald-tickets/,
      );
    } finally {
      restore();
    }
    expect((await issueTicket()).status).toBe(200);
  });

  it('checks a call by the role of whoever makes it, and leaves calls outside any role alone', async () => {
    const client = new DynamoDBClient({ endpoint: runtime.urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const read = () => client.send(new GetItemCommand({ TableName: 'herald-tickets', Key: { ticketHash: { S: 'none' } } }));
    try {
      await expect(read()).resolves.toBeDefined();
      // The ticket issuer may write tickets but never read them.
      await expect(runtime.iam!.runAs('issueTicket', runtime.iam!.functionRole('issueTicket'), read)).rejects.toBeInstanceOf(AccessDeniedException);
      await expect(runtime.iam!.runAs('getPreferences', runtime.iam!.functionRole('getPreferences'), read)).rejects.toThrow(
        /not authorized to perform: dynamodb:GetItem/,
      );
    } finally {
      client.destroy();
    }
  });

  it("authorizes a send through a configuration set against it too: the stack's own passes, another is refused", async () => {
    const ses = new SESClient({ endpoint: runtime.urls.mailUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    const send = (configurationSet: string) => () =>
      ses.send(
        new SendEmailCommand({
          Source: LOCAL_EMAIL_SENDER,
          Destination: { ToAddresses: ['ops@herald.local'] },
          Message: { Subject: { Data: 'configuration set' }, Body: { Text: { Data: 'x' } } },
          ConfigurationSetName: configurationSet,
        }),
      );
    try {
      const role = runtime.iam!.functionRole('alertFanout');
      await expect(runtime.iam!.runAs('alertFanout', role, send(LOCAL_EMAIL_CONFIGURATION_SET))).resolves.toBeDefined();
      await expect(runtime.iam!.runAs('alertFanout', role, send('someone-elses-set'))).rejects.toThrow(
        /not authorized to perform: ses:SendEmail on resource: arn:aws:ses:[^:]+:\d+:configuration-set\/someone-elses-set/,
      );
    } finally {
      ses.destroy();
    }
  });

  it('refuses every call an invocation makes after it timed out, as Lambda would have stopped it', async () => {
    const client = new DynamoDBClient({ endpoint: runtime.urls.dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    try {
      const late = runtime.iam!.runAs('wsConnect', runtime.iam!.functionRole('wsConnect'), async (caller) => {
        caller.timedOutAfterMs = 10_000;
        return client.send(new GetItemCommand({ TableName: 'herald-connections', Key: { connectionId: { S: 'x' } } }));
      });
      await expect(late).rejects.toThrow(/after the invocation timed out \(10 s\)/);
    } finally {
      client.destroy();
    }
  });

  it('records each distinct call with its decision, for the least-privilege check', () => {
    const calls = [...runtime.iam!.calls.values()];
    expect(calls).toContainEqual({
      label: 'issueTicket',
      allowed: true,
      request: { action: 'dynamodb:PutItem', resource: 'arn:aws:dynamodb:us-east-1:000000000000:table/herald-tickets' },
    });
    expect(calls.some((call) => call.label === 'issueTicket' && !call.allowed)).toBe(true);
  });

  // Not IAM, but this is the one file whose runtime, and so whose handlers, live in the test's own
  // process, where what they installed in it can be seen.
  it("has loaded the tracer's X-Ray SDK in manual mode, tracing being off: no async hook on every promise", async () => {
    const { token } = (await (
      await fetch(`${runtime.urls.httpUrl}/dev/token`, { method: 'POST', body: JSON.stringify({ tenant: 'acme', user: 'ana' }) })
    ).json()) as { token: string };
    expect((await fetch(`${runtime.urls.httpUrl}/notifications`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const xray = createRequire(import.meta.url)('aws-xray-sdk-core') as { isAutomaticMode(): boolean };
    expect(xray.isAutomaticMode()).toBe(false);
    // cls-hooked, which automatic mode uses, keeps its namespaces (each an enabled async hook) on process.
    expect(Object.keys((process as { namespaces?: object }).namespaces ?? {})).toEqual([]);
  });
});
