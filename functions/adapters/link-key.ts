import { GetSecretValueCommand, ResourceNotFoundException, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { MissingConfigError } from '../shared/config';

/**
 * The HMAC keys of download links, from the `exportLinkKey` setting:
 * - `secret:<ARN>`: a Secrets Manager secret (deployed; the stack generates it). Its `AWSCURRENT`
 *   version signs, and its `AWSPREVIOUS` version, the key before the last rotation, is still
 *   accepted. Putting a new value (`aws secretsmanager put-secret-value`, or a rotation) moves the
 *   labels: the old current becomes the previous.
 * - `key:<base64>[,<base64>]`: the keys themselves, current first (the local runtime).
 * Anything else fails loudly. Keys are read at cold start. `secretsManager` is for tests (an
 * in-memory Secrets Manager behind a real client); functions pass none.
 */
export async function loadLinkKeys(setting: string, name: string, secretsManager?: SecretsManagerClient): Promise<Buffer[]> {
  if (setting.startsWith('key:')) {
    const keys = setting
      .slice(4)
      .split(',')
      .map((text) => Buffer.from(text, 'base64'));
    if (keys.length > 2 || keys.some((key) => key.length < 32)) {
      throw new MissingConfigError(`Environment variable ${name} must hold one or two base64 keys of at least 32 bytes, current first`);
    }
    return keys;
  }
  if (setting.startsWith('secret:')) {
    // A client of the caller's is theirs to keep; one made here is destroyed after the read.
    const client = secretsManager ?? new SecretsManagerClient({});
    try {
      const current = await secretVersion(client, setting.slice(7), 'AWSCURRENT');
      if (current === undefined || current.length < 32) throw new MissingConfigError(`The secret named by ${name} is empty or shorter than 32 characters`);
      const previous = await secretVersion(client, setting.slice(7), 'AWSPREVIOUS');
      return [current, ...(previous !== undefined && previous.length >= 32 ? [previous] : [])];
    } finally {
      if (secretsManager === undefined) client.destroy();
    }
  }
  throw new MissingConfigError(`Environment variable ${name} must be "secret:<ARN>" or "key:<base64>[,<base64>]"`);
}

/** The key that signs new links: the current one. */
export async function loadLinkKey(setting: string, name: string): Promise<Buffer> {
  return (await loadLinkKeys(setting, name))[0]!;
}

/** A secret that was never rotated has no AWSPREVIOUS version. */
async function secretVersion(client: SecretsManagerClient, secretId: string, stage: 'AWSCURRENT' | 'AWSPREVIOUS'): Promise<Buffer | undefined> {
  try {
    const { SecretString } = await client.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage }));
    return SecretString ? Buffer.from(SecretString, 'utf8') : undefined;
  } catch (error) {
    if (stage === 'AWSPREVIOUS' && error instanceof ResourceNotFoundException) return undefined;
    throw error;
  }
}

/** The keys the download route checks links with, read again when a link names a key it lacks. */
export interface LinkKeyRing {
  keys(): Promise<readonly Buffer[]>;
  /**
   * Reads the keys again, at most once per `minIntervalMs`: a warm function rotated under it holds
   * the old pair and would refuse links the new key signed. Answers the keys it now holds.
   */
  refresh(): Promise<readonly Buffer[]>;
}

export function linkKeyRing(load: () => Promise<Buffer[]>, options: { minIntervalMs?: number; now?: () => number } = {}): LinkKeyRing {
  const minIntervalMs = options.minIntervalMs ?? 60_000;
  const now = options.now ?? Date.now;
  let loaded: Promise<Buffer[]> | undefined;
  let loadedAt = Number.NEGATIVE_INFINITY;
  const read = () => {
    loadedAt = now();
    const reading = load();
    loaded = reading;
    // A failed read is not kept: the next call reads again.
    reading.catch(() => {
      if (loaded === reading) loaded = undefined;
    });
    return reading;
  };
  return {
    keys: () => loaded ?? read(),
    refresh: () => (now() - loadedAt >= minIntervalMs ? read() : (loaded ?? read())),
  };
}
