import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MissingConfigError } from '../shared/config';

/**
 * The HMAC key of download links, from the `exportLinkKey` setting: `secret:<ARN>` is read from
 * Secrets Manager once, at cold start (deployed; the stack generates the secret), `key:<base64>`
 * is the key itself (the local runtime makes one per run). Anything else fails loudly.
 */
export async function loadLinkKey(setting: string, name: string): Promise<Buffer> {
  if (setting.startsWith('key:')) {
    const key = Buffer.from(setting.slice(4), 'base64');
    if (key.length < 32) throw new MissingConfigError(`Environment variable ${name} holds a key shorter than 32 bytes`);
    return key;
  }
  if (setting.startsWith('secret:')) {
    const client = new SecretsManagerClient({});
    try {
      const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: setting.slice(7) }));
      if (!SecretString || SecretString.length < 32) throw new MissingConfigError(`The secret named by ${name} is empty or shorter than 32 characters`);
      return Buffer.from(SecretString, 'utf8');
    } finally {
      client.destroy();
    }
  }
  throw new MissingConfigError(`Environment variable ${name} must be "secret:<ARN>" or "key:<base64>"`);
}
