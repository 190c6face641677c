import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, describe, expect, it } from 'vitest';
import { tables } from '#lib/description';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '#lib/local/aws-local';
import { LocalSetupError } from '#lib/local/emulators';
import { createTable } from '#lib/local/resources';
import { devToken, urls } from '../support/local';

/** Behaviours of the local emulations themselves, beyond what the realtime tests cover. */
const dynamodb = new DynamoDBClient({ endpoint: urls().dynamodbUrl, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
afterAll(() => dynamodb.destroy());

describe('tables from the description', () => {
  it('keeps an existing table that matches, and names the fix for one that no longer does', async () => {
    const name = `drifted-${Date.now().toString(36)}`;
    await dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      }),
    );
    const error = await createTable(dynamodb, name, tables.connections).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LocalSetupError);
    expect((error as Error).message).toMatch(/no longer matches lib\/description\/ .*keys id:HASH instead of connectionId:HASH.*delete \.herald\//);

    await createTable(dynamodb, `${name}-same`, tables.connections);
    await expect(createTable(dynamodb, `${name}-same`, tables.connections)).resolves.toBeUndefined();
  });
});

describe('demo web server', () => {
  it('answers a malformed path with 400 and keeps serving', async () => {
    expect((await fetch(`${urls().webUrl}/%E0%A4%A`)).status).toBe(400);
    expect((await fetch(`${urls().webUrl}/../../package.json`)).status).toBe(404);
    expect((await fetch(`${urls().webUrl}/`)).status).toBe(200);
  });
});

describe('HTTP API emulation', () => {
  const preflight = (origin: string) =>
    fetch(`${urls().httpUrl}/realtime/ticket`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST' } });

  it('answers preflights itself, with CORS headers only for an allowed origin', async () => {
    const allowed = await preflight(urls().webUrl);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(urls().webUrl);
    expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');

    const foreign = await preflight('https://evil.example');
    expect(foreign.status).toBe(204);
    expect(foreign.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('takes the token with or without the Bearer prefix, as API Gateway does', async () => {
    const token = await devToken('acme', 'no-prefix');
    const response = await fetch(`${urls().httpUrl}/realtime/ticket`, { method: 'POST', headers: { authorization: token } });
    expect(response.status).toBe(200);
  });

  it('answers an unknown route with 404 and API Gateway’s body', async () => {
    const response = await fetch(`${urls().httpUrl}/nowhere`, { method: 'POST' });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: 'Not Found' });
  });
});
