import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { buildHeraldApp } from '#lib/infra/herald-stack';
import { SKIP_BUNDLING, TEST_CONTEXT } from './synth';

/**
 * A deployed stack must never see a stateful resource replaced. CloudFormation replaces a resource
 * whose logical id changes (a new, empty table, bucket, user pool or secret, the old one retained
 * or deleted), and CDK derives logical ids from construct paths, so moving a construct is enough
 * to do it. logical-ids.json holds every (logical id, type) pair the stack synthesized before the
 * capability constructs, for three sets of context; the stack must still synthesize exactly those.
 * A change that adds or removes resources on purpose updates the file in the same commit.
 */
interface Recorded {
  readonly context: Record<string, unknown>;
  readonly resources: Array<[string, string]>;
}

const recorded = JSON.parse(readFileSync(new URL('./logical-ids.json', import.meta.url), 'utf8')) as Record<string, Recorded | string>;
const variants = Object.entries(recorded).filter((entry): entry is [string, Recorded] => typeof entry[1] !== 'string');

describe('logical ids', () => {
  it('records the default stack, every opt-in, and another stack name', () => {
    expect(variants.map(([name]) => name)).toEqual(['default', 'everyOptIn', 'otherStackName']);
  });

  it.each(variants)('are unchanged for %s', (_, { context, resources }) => {
    const { app, stack } = buildHeraldApp({ ...TEST_CONTEXT, ...SKIP_BUNDLING, ...context }, { nagChecks: false });
    const template = app.synth().getStackByName(stack.stackName).template as { Resources: Record<string, { Type: string }> };
    const synthesized = Object.entries(template.Resources)
      .map(([id, resource]) => `${id} ${resource.Type}`)
      .sort();
    expect(synthesized).toEqual(resources.map(([id, type]) => `${id} ${type}`).sort());
  });
});
