import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  type SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import type { RotatingSecret } from '../exports/link-key-rotation';

/**
 * RotatingSecret on Secrets Manager: DescribeSecret, GetSecretValue, PutSecretValue and
 * UpdateSecretVersionStage, the four operations the rotation function's role holds on the link key
 * (lib/description/exports.ts).
 */
export function secretsManagerRotatingSecret(client: SecretsManagerClient): RotatingSecret {
  return {
    async describe(secretId) {
      const answer = await client.send(new DescribeSecretCommand({ SecretId: secretId }));
      return { rotationEnabled: answer.RotationEnabled === true, versionStages: answer.VersionIdsToStages ?? {} };
    },
    async value(secretId, stage, versionId) {
      try {
        const answer = await client.send(
          new GetSecretValueCommand({ SecretId: secretId, VersionStage: stage, ...(versionId !== undefined && { VersionId: versionId }) }),
        );
        return answer.SecretString;
      } catch (error) {
        if (error instanceof ResourceNotFoundException) return undefined;
        throw error;
      }
    },
    async putPending(secretId, versionId, value) {
      await client.send(new PutSecretValueCommand({ SecretId: secretId, ClientRequestToken: versionId, SecretString: value, VersionStages: ['AWSPENDING'] }));
    },
    async promote(secretId, toVersionId, fromVersionId) {
      await client.send(
        new UpdateSecretVersionStageCommand({
          SecretId: secretId,
          VersionStage: 'AWSCURRENT',
          MoveToVersionId: toVersionId,
          RemoveFromVersionId: fromVersionId,
        }),
      );
    },
  };
}
