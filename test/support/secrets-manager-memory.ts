import { randomUUID } from 'node:crypto';
import {
  InvalidParameterException,
  InvalidRequestException,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';

interface Version {
  value?: string;
  stages: Set<string>;
}

/**
 * One Secrets Manager secret in memory, behind a real SecretsManagerClient: a middleware answers
 * each command before it leaves the client, so the code under test builds real commands and meets
 * the SDK's own exception classes. There is no Secrets Manager emulator for the local runtime
 * (docs/exports.md, "Download links"); this follows the documented staging-label rules instead:
 * - a label is on at most one version; putting or moving it takes it off the other;
 * - when AWSCURRENT moves, the version that had it becomes AWSPREVIOUS;
 * - UpdateSecretVersionStage refuses to move a label without naming the version it is on;
 * - PutSecretValue with a known version id is idempotent for the same value, refused for another;
 * - RotateSecret labels a new version id AWSPENDING before the function's createSecret gives it
 *   a value, then invokes the rotation function with each step in order.
 * Not modelled: deprecated versions' clean-up, resource policies, KMS, the rotation window.
 */
export class MemorySecret {
  readonly arn: string;
  readonly versions = new Map<string, Version>();
  rotationEnabled = true;
  /** Commands the client sent, in order (names without `Command`). */
  readonly calls: string[] = [];
  /** Throws `error` instead of answering the next call of `command`. */
  private faults: Array<{ command: string; error: Error }> = [];

  constructor(name: string, initialValue: string) {
    this.arn = `arn:aws:secretsmanager:eu-west-1:123456789012:secret:${name}-AbCdEf`;
    this.versions.set(randomUUID(), { value: initialValue, stages: new Set(['AWSCURRENT']) });
  }

  client(): SecretsManagerClient {
    const client = new SecretsManagerClient({ region: 'eu-west-1', credentials: { accessKeyId: 'memory', secretAccessKey: 'memory' } });
    client.middlewareStack.add(
      (_next, context) => async (args) => {
        const command = String(context.commandName).replace(/Command$/, '');
        this.calls.push(command);
        const fault = this.faults.findIndex((candidate) => candidate.command === command);
        if (fault >= 0) throw this.faults.splice(fault, 1)[0]!.error;
        const output = this.answer(command, args.input as Record<string, unknown>);
        return { output: { ...output, $metadata: { httpStatusCode: 200 } }, response: {} } as never;
      },
      { step: 'initialize', name: 'memorySecretsManager' },
    );
    return client;
  }

  failNext(command: string, error: Error): void {
    this.faults.push({ command, error });
  }

  /** The version id carrying `stage`, if any. */
  holderOf(stage: string): string | undefined {
    return [...this.versions].find(([, version]) => version.stages.has(stage))?.[0];
  }

  valueOf(stage: string): string | undefined {
    const id = this.holderOf(stage);
    return id === undefined ? undefined : this.versions.get(id)!.value;
  }

  /** What RotateSecret does: label a new version id AWSPENDING, then run the four steps through `invoke`. */
  async rotate(invoke: (event: { SecretId: string; ClientRequestToken: string; Step: string }) => Promise<unknown>, token = randomUUID()): Promise<string> {
    if (!this.rotationEnabled) throw new InvalidRequestException({ message: 'Rotation is not enabled', $metadata: {} });
    if (!this.versions.has(token)) this.versions.set(token, { stages: new Set() });
    this.label('AWSPENDING', token);
    for (const Step of ['createSecret', 'setSecret', 'testSecret', 'finishSecret']) await invoke({ SecretId: this.arn, ClientRequestToken: token, Step });
    return token;
  }

  private answer(command: string, input: Record<string, unknown>): Record<string, unknown> {
    if (input.SecretId !== this.arn) throw new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret.", $metadata: {} });
    switch (command) {
      case 'DescribeSecret':
        return {
          ARN: this.arn,
          RotationEnabled: this.rotationEnabled,
          VersionIdsToStages: Object.fromEntries([...this.versions].filter(([, v]) => v.stages.size > 0).map(([id, v]) => [id, [...v.stages]])),
        };
      case 'GetSecretValue': {
        const stage = (input.VersionStage as string | undefined) ?? (input.VersionId === undefined ? 'AWSCURRENT' : undefined);
        const id = (input.VersionId as string | undefined) ?? (stage === undefined ? undefined : this.holderOf(stage));
        const version = id === undefined ? undefined : this.versions.get(id);
        if (!version || version.value === undefined || (stage !== undefined && !version.stages.has(stage))) {
          throw new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value.", $metadata: {} });
        }
        return { ARN: this.arn, VersionId: id, SecretString: version.value, VersionStages: [...version.stages] };
      }
      case 'PutSecretValue': {
        const id = input.ClientRequestToken as string;
        const value = input.SecretString as string;
        const existing = this.versions.get(id);
        if (existing?.value !== undefined) {
          if (existing.value !== value)
            throw new ResourceExistsException({ message: 'A version with this ID already exists with different contents.', $metadata: {} });
          return { ARN: this.arn, VersionId: id, VersionStages: [...existing.stages] };
        }
        this.versions.set(id, { value, stages: existing?.stages ?? new Set() });
        for (const stage of (input.VersionStages as string[] | undefined) ?? ['AWSCURRENT']) this.label(stage, id);
        return { ARN: this.arn, VersionId: id, VersionStages: [...this.versions.get(id)!.stages] };
      }
      case 'UpdateSecretVersionStage': {
        const stage = input.VersionStage as string;
        const to = input.MoveToVersionId as string | undefined;
        const from = input.RemoveFromVersionId as string | undefined;
        const holder = this.holderOf(stage);
        if (to !== undefined && !this.versions.has(to)) throw new ResourceNotFoundException({ message: `No version ${to}`, $metadata: {} });
        if (holder !== undefined && holder !== to && holder !== from) {
          throw new InvalidParameterException({
            message: `The staging label ${stage} is attached to version ${holder}; name it in RemoveFromVersionId.`,
            $metadata: {},
          });
        }
        if (from !== undefined && holder !== from) throw new InvalidParameterException({ message: `Version ${from} does not have ${stage}`, $metadata: {} });
        if (to === undefined) this.versions.get(from!)!.stages.delete(stage);
        else this.label(stage, to);
        return { ARN: this.arn };
      }
      default:
        throw new InvalidRequestException({ message: `The in-memory Secrets Manager does not answer ${command}`, $metadata: {} });
    }
  }

  /** Puts `stage` on version `id`, taking it off any other; AWSCURRENT leaving a version makes it AWSPREVIOUS. */
  private label(stage: string, id: string): void {
    const holder = this.holderOf(stage);
    if (holder === id) return;
    if (holder !== undefined) this.versions.get(holder)!.stages.delete(stage);
    this.versions.get(id)!.stages.add(stage);
    if (stage === 'AWSCURRENT' && holder !== undefined) this.label('AWSPREVIOUS', holder);
  }
}
