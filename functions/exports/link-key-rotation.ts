/**
 * Rotation of the download-link key by Secrets Manager's four-step protocol (docs/exports.md,
 * "Download links"). Secrets Manager calls the rotation function once per step with the same
 * ClientRequestToken, which is the id of the version being made, and retries a step that fails; so
 * every step checks the staging labels first and does nothing a second time.
 *
 * The key is only ever read by Herald's own functions, so there is nothing external to set:
 * `setSecret` does nothing, and `testSecret` checks that the pending value is a key the download
 * route and the worker accept (functions/adapters/link-key.ts).
 */
import { randomBytes } from 'node:crypto';
import { linkKeyId } from './links';

export type RotationStep = 'createSecret' | 'setSecret' | 'testSecret' | 'finishSecret';

export interface RotationRequest {
  readonly secretId: string;
  /** The id of the version this rotation makes (Secrets Manager's ClientRequestToken). */
  readonly token: string;
  readonly step: RotationStep;
}

/** The secret's state as DescribeSecret tells it. */
export interface SecretDescription {
  readonly rotationEnabled: boolean;
  /** Each version id with its staging labels (AWSCURRENT, AWSPREVIOUS, AWSPENDING). */
  readonly versionStages: Readonly<Record<string, readonly string[]>>;
}

/** The Secrets Manager operations a rotation performs on one secret. */
export interface RotatingSecret {
  describe(secretId: string): Promise<SecretDescription>;
  /** The value of the version with `stage` (and `versionId` when given); undefined when no such version. */
  value(secretId: string, stage: 'AWSCURRENT' | 'AWSPENDING', versionId?: string): Promise<string | undefined>;
  /** Stores `value` as version `versionId`, labelled AWSPENDING. */
  putPending(secretId: string, versionId: string, value: string): Promise<void>;
  /** Moves AWSCURRENT from `fromVersionId` to `toVersionId`; Secrets Manager labels the former AWSPREVIOUS. */
  promote(secretId: string, toVersionId: string, fromVersionId: string): Promise<void>;
}

/** The shortest key functions/adapters/link-key.ts accepts (characters of the secret string). */
export const MIN_LINK_KEY_LENGTH = 32;

/** 48 random bytes as 64 base64url characters: 384 bits, the length of the key the stack generates. */
export function newLinkKey(): string {
  return randomBytes(48).toString('base64url');
}

/** A rotation that cannot go on; Secrets Manager records the failure and leaves AWSCURRENT where it was. */
export class RotationError extends Error {
  override readonly name = 'RotationError';
}

export type RotationOutcome = 'created' | 'exists' | 'nothing-to-set' | 'tested' | 'finished' | 'already-current';

export async function rotateLinkKey(secret: RotatingSecret, request: RotationRequest, options: { newKey?: () => string } = {}): Promise<RotationOutcome> {
  const { secretId, token, step } = request;
  const description = await secret.describe(secretId);
  if (!description.rotationEnabled) throw new RotationError(`Secret ${secretId} is not enabled for rotation`);
  const stages = description.versionStages[token];
  if (stages === undefined) throw new RotationError(`Secret ${secretId} has no version ${token} to rotate to`);
  // A step retried after finishSecret succeeded: the rotation is done.
  if (stages.includes('AWSCURRENT')) return 'already-current';
  if (!stages.includes('AWSPENDING')) throw new RotationError(`Version ${token} of secret ${secretId} is not AWSPENDING, so it is not being rotated to`);

  switch (step) {
    case 'createSecret': {
      // Read first: a secret without a current value cannot be rotated (and fails here, not later).
      if ((await secret.value(secretId, 'AWSCURRENT')) === undefined) throw new RotationError(`Secret ${secretId} has no AWSCURRENT version`);
      if ((await secret.value(secretId, 'AWSPENDING', token)) !== undefined) return 'exists';
      await secret.putPending(secretId, token, (options.newKey ?? newLinkKey)());
      return 'created';
    }
    case 'setSecret':
      // Herald's own functions are the only readers: no service holds a copy to update.
      return 'nothing-to-set';
    case 'testSecret': {
      const pending = await secret.value(secretId, 'AWSPENDING', token);
      if (pending === undefined) throw new RotationError(`Secret ${secretId} has no AWSPENDING value for version ${token}`);
      if (pending.length < MIN_LINK_KEY_LENGTH) throw new RotationError(`The pending link key is shorter than ${MIN_LINK_KEY_LENGTH} characters`);
      const current = await secret.value(secretId, 'AWSCURRENT');
      // Links name their key by id: a new key with the current key's id would make links ambiguous.
      if (current !== undefined && linkKeyId(Buffer.from(current, 'utf8')) === linkKeyId(Buffer.from(pending, 'utf8'))) {
        throw new RotationError('The pending link key is the current one');
      }
      return 'tested';
    }
    case 'finishSecret': {
      const current = Object.entries(description.versionStages).find(([, labels]) => labels.includes('AWSCURRENT'))?.[0];
      if (current === undefined) throw new RotationError(`Secret ${secretId} has no AWSCURRENT version`);
      await secret.promote(secretId, token, current);
      return 'finished';
    }
  }
}
