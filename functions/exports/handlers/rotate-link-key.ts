import { rotatingLinkKeyFromEnv } from '#functions/adapters/wiring';
import { countMetric, instrument, logger } from '#functions/shared/instrumentation';
import * as z from '#functions/shared/validation';
import { rotateLinkKey, RotationError, type RotatingSecret } from '../link-key-rotation';

export interface RotateLinkKeyDeps {
  readonly secret: RotatingSecret;
  readonly newKey?: () => string;
}

/** What Secrets Manager sends a rotation function; RotationToken (cross-account rotation) is not used. */
const rotationEventSchema = z.object({
  SecretId: z.string().check(z.minLength(1)),
  ClientRequestToken: z.string().check(z.minLength(32), z.maxLength(64)),
  Step: z.enum(['createSecret', 'setSecret', 'testSecret', 'finishSecret']),
});

/**
 * The link key's rotation function, invoked by Secrets Manager once per step. A malformed event or
 * a failed step throws: Secrets Manager records the rotation as failed, retries it, and the
 * current key stays current (docs/runbook.md, "Link key rotation failed").
 */
export function makeHandler(deps: RotateLinkKeyDeps) {
  return instrument(async (event: unknown) => {
    const parsed = rotationEventSchema.safeParse(event);
    if (!parsed.success) throw new RotationError(`Not a Secrets Manager rotation event: ${z.describeIssues(parsed.error)}`);
    const request = { secretId: parsed.data.SecretId, token: parsed.data.ClientRequestToken, step: parsed.data.Step };
    try {
      const outcome = await rotateLinkKey(deps.secret, request, { newKey: deps.newKey });
      // Never the key itself: the log names the step and what it did.
      logger.info('Link key rotation step', { step: request.step, versionId: request.token, outcome });
      if (outcome === 'finished') countMetric('LinkKeyRotations');
    } catch (error) {
      logger.error('Link key rotation step failed', { step: request.step, versionId: request.token, error: error as Error });
      countMetric('LinkKeyRotationFailures');
      throw error;
    }
  });
}

export const handler = makeHandler({ secret: rotatingLinkKeyFromEnv() });
