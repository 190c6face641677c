import { buildHeraldApp, type HeraldStack } from '../../herald-stack';

/** The CloudFormation template as `cdk synth` writes it. */
export interface Template {
  readonly Resources: Record<string, { Type: string; Properties?: Record<string, any> }>;
}

export interface SynthesizedStack {
  readonly stack: HeraldStack;
  readonly template: Template;
}

/**
 * The stack `cdk deploy` would deploy, synthesized in this process with the local settings. Asset
 * bundling is skipped (`aws:cdk:bundling-stacks: []`): it changes no role or policy, and esbuild
 * over every function would add seconds to each start.
 */
export function synthesizeLocalStack(context: Record<string, unknown>): SynthesizedStack {
  const { app, stack } = buildHeraldApp({ ...context, 'aws:cdk:bundling-stacks': [] }, { nagChecks: false });
  const assembly = app.synth();
  return { stack, template: assembly.getStackByName(stack.stackName).template as Template };
}
