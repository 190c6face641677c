import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { buildHeraldApp, type HeraldStack } from '#lib/infra/herald-stack';

/** The part of CDK's validation-report.json these tests read. */
export interface ValidationReport {
  pluginReports: Array<{
    pluginName: string;
    conclusion: 'success' | 'failure';
    violations: Array<{ ruleName: string }>;
    suppressedViolations?: Array<{
      ruleName: string;
      acknowledgedId: string;
      reason: string;
      acknowledgedAt: string;
      violatingConstructs: Array<{ constructPath: string; constructFqn?: string }>;
    }>;
  }>;
}

/** What a deployer must set in cdk.json before synth succeeds (lib/config.ts requireEmailSender, requireAlarmTarget). */
export const TEST_CONTEXT = { emailSender: 'exports@herald.example', alarmEmail: 'ops@herald.example' };

/** Skips esbuild for tests that assert only wiring, not bundles. */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

/**
 * Synthesizes the app exactly as bin/app.ts builds it (cdk-nag attached), so an unacknowledged
 * finding throws here as it fails `cdk synth`. `extend` may add constructs before synthesis.
 */
export function synthesize(
  context: Record<string, unknown> = {},
  extend?: (stack: HeraldStack) => void,
): { template: Template; report: ValidationReport; stack: HeraldStack } {
  const { app, stack } = buildHeraldApp({ ...TEST_CONTEXT, ...context });
  extend?.(stack);
  const assembly = app.synth();
  const report = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8')) as ValidationReport;
  const template = Template.fromJSON(assembly.getStackArtifact(stack.artifactId).template as Record<string, unknown>);
  return { template, report, stack };
}
