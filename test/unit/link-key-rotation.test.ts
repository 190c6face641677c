import { randomUUID } from 'node:crypto';
import { InternalServiceError } from '@aws-sdk/client-secrets-manager';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { loadLinkKeys } from '#functions/adapters/link-key';
import { secretsManagerRotatingSecret } from '#functions/adapters/secrets-manager-rotation';
import { makeHandler } from '#functions/exports/handlers/rotate-link-key';
import { signLink, verifyLink } from '#functions/exports/links';
import { MemorySecret } from '../support/secrets-manager-memory';

/**
 * The link key's rotation function, handler to SDK client, against an in-memory Secrets Manager
 * that keeps staging labels as Secrets Manager does (test/support/secrets-manager-memory.ts): the
 * local runtime has no Secrets Manager, so this is where rotation is tested (docs/exports.md).
 */
const context = { functionName: 'rotateExportLinkKey', awsRequestId: randomUUID(), getRemainingTimeInMillis: () => 10_000 } as unknown as Context;
const initialKey = 'A'.repeat(20) + 'b'.repeat(44);

function setup() {
  const secret = new MemorySecret('herald-ExportLinkKey', initialKey);
  const client = secret.client();
  const handler = makeHandler({ secret: secretsManagerRotatingSecret(client) });
  const invoke = (event: unknown) => handler(event, context);
  return { secret, client, invoke };
}

const claims = { runId: 'run-1', tenant: 'acme', owner: 'u1', exp: Math.floor(Date.now() / 1000) + 7 * 86_400 };

describe('rotating the download-link key', () => {
  it('makes a new random key current, and keeps the old one as AWSPREVIOUS', async () => {
    const { secret, invoke } = setup();
    const before = secret.holderOf('AWSCURRENT');
    const token = await secret.rotate(invoke);
    expect(secret.holderOf('AWSCURRENT')).toBe(token);
    expect(secret.holderOf('AWSPREVIOUS')).toBe(before);
    const current = secret.valueOf('AWSCURRENT')!;
    expect(current).not.toBe(initialKey);
    expect(current).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(secret.valueOf('AWSPREVIOUS')).toBe(initialKey);
    // The four steps, each after DescribeSecret; createSecret reads current, then the pending version before putting it.
    expect(secret.calls).toEqual([
      'DescribeSecret',
      'GetSecretValue',
      'GetSecretValue',
      'PutSecretValue',
      'DescribeSecret',
      'DescribeSecret',
      'GetSecretValue',
      'GetSecretValue',
      'DescribeSecret',
      'UpdateSecretVersionStage',
    ]);
  });

  it('keeps links working across one rotation and refuses them after two, as the download route reads the keys', async () => {
    const { secret, client, invoke } = setup();
    const setting = `secret:${secret.arn}`;
    const now = new Date();
    const oldLink = signLink((await loadLinkKeys(setting, 'EXPORT_LINK_KEY', client))[0]!, claims);

    await secret.rotate(invoke);
    const afterOne = await loadLinkKeys(setting, 'EXPORT_LINK_KEY', client);
    expect(afterOne).toHaveLength(2);
    expect(verifyLink(afterOne, oldLink, 'run-1', now)).toMatchObject({ ok: true });
    const newLink = signLink(afterOne[0]!, claims);

    await secret.rotate(invoke);
    const afterTwo = await loadLinkKeys(setting, 'EXPORT_LINK_KEY', client);
    expect(verifyLink(afterTwo, oldLink, 'run-1', now)).toEqual({ ok: false, reason: 'unknown_key' });
    expect(verifyLink(afterTwo, newLink, 'run-1', now)).toMatchObject({ ok: true });
  });

  it('does each step once: createSecret again keeps the pending key, and a step after finishSecret changes nothing', async () => {
    const { secret, invoke } = setup();
    const token = randomUUID();
    secret.versions.set(token, { stages: new Set(['AWSPENDING']) });
    await invoke({ SecretId: secret.arn, ClientRequestToken: token, Step: 'createSecret' });
    const pending = secret.versions.get(token)!.value;
    expect(pending).toHaveLength(64);
    await invoke({ SecretId: secret.arn, ClientRequestToken: token, Step: 'createSecret' });
    expect(secret.versions.get(token)!.value).toBe(pending);
    expect(secret.calls.filter((call) => call === 'PutSecretValue')).toHaveLength(1);

    await invoke({ SecretId: secret.arn, ClientRequestToken: token, Step: 'testSecret' });
    await invoke({ SecretId: secret.arn, ClientRequestToken: token, Step: 'finishSecret' });
    await invoke({ SecretId: secret.arn, ClientRequestToken: token, Step: 'finishSecret' });
    await invoke({ SecretId: secret.arn, ClientRequestToken: token, Step: 'createSecret' });
    expect(secret.holderOf('AWSCURRENT')).toBe(token);
    expect(secret.valueOf('AWSCURRENT')).toBe(pending);
    expect(secret.valueOf('AWSPREVIOUS')).toBe(initialKey);
    expect(secret.calls.filter((call) => call === 'UpdateSecretVersionStage')).toHaveLength(1);
  });

  it('leaves the current key current when finishSecret fails, and the retried rotation finishes with the same pending key', async () => {
    const { secret, invoke } = setup();
    const before = secret.holderOf('AWSCURRENT');
    secret.failNext('UpdateSecretVersionStage', new InternalServiceError({ message: 'injected', $metadata: {} }));
    const token = randomUUID();
    await expect(secret.rotate(invoke, token)).rejects.toThrow('injected');
    expect(secret.holderOf('AWSCURRENT')).toBe(before);
    expect(secret.valueOf('AWSCURRENT')).toBe(initialKey);
    const pending = secret.valueOf('AWSPENDING');
    // Secrets Manager retries the rotation with the same token.
    await secret.rotate(invoke, token);
    expect(secret.holderOf('AWSCURRENT')).toBe(token);
    expect(secret.valueOf('AWSCURRENT')).toBe(pending);
  });

  it('refuses a pending value that is not a usable key, without promoting it', async () => {
    const { secret } = setup();
    const shortKey = makeHandler({ secret: secretsManagerRotatingSecret(secret.client()), newKey: () => 'too-short' });
    await expect(secret.rotate((event) => shortKey(event, context))).rejects.toThrow('shorter than 32 characters');
    expect(secret.valueOf('AWSCURRENT')).toBe(initialKey);

    const { secret: other } = setup();
    const sameKey = makeHandler({ secret: secretsManagerRotatingSecret(other.client()), newKey: () => initialKey });
    await expect(other.rotate((event) => sameKey(event, context))).rejects.toThrow('is the current one');
    expect(other.holderOf('AWSPREVIOUS')).toBeUndefined();
  });

  it('refuses a secret without rotation enabled, a version that is not pending, and an event that is not a rotation step', async () => {
    const { secret, invoke } = setup();
    const token = randomUUID();
    secret.versions.set(token, { stages: new Set(['AWSPENDING']) });
    secret.rotationEnabled = false;
    await expect(invoke({ SecretId: secret.arn, ClientRequestToken: token, Step: 'createSecret' })).rejects.toThrow('not enabled for rotation');
    secret.rotationEnabled = true;
    const unknown = randomUUID();
    await expect(invoke({ SecretId: secret.arn, ClientRequestToken: unknown, Step: 'createSecret' })).rejects.toThrow(`no version ${unknown}`);
    secret.versions.set(unknown, { value: 'x'.repeat(64), stages: new Set(['ops-label']) });
    await expect(invoke({ SecretId: secret.arn, ClientRequestToken: unknown, Step: 'finishSecret' })).rejects.toThrow('is not AWSPENDING');
    await expect(invoke({ SecretId: secret.arn, ClientRequestToken: token, Step: 'deleteSecret' })).rejects.toThrow('Step');
    await expect(invoke({ SecretId: secret.arn, Step: 'createSecret' })).rejects.toThrow('ClientRequestToken');
    await expect(
      invoke({ SecretId: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:other', ClientRequestToken: token, Step: 'createSecret' }),
    ).rejects.toThrow("can't find the specified secret");
    expect(secret.valueOf('AWSCURRENT')).toBe(initialKey);
    expect(secret.versions.get(token)!.value).toBeUndefined();
  });
});
