import { readFileSync } from 'node:fs';
import { App, CfnOutput, Stack, Validations, type StackProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { Construct } from 'constructs';
import { readConfig, type HeraldConfig } from './config';
import { Realtime } from './realtime';

export interface HeraldStackProps extends StackProps {
  /** Validated deployment settings (lib/config.ts). */
  readonly config: HeraldConfig;
}

/** Herald's one stack: one construct per capability. */
export class HeraldStack extends Stack {
  public readonly realtime: Realtime;

  constructor(scope: Construct, id: string, props: HeraldStackProps) {
    super(scope, id, props);
    this.realtime = new Realtime(this, 'Realtime', props.config);

    // Declared on the stack, not in the construct, so the output keys stay plain names.
    new CfnOutput(this, 'WebSocketUrl', { value: this.realtime.webSocketStage.url });
    new CfnOutput(this, 'HttpApiUrl', { value: this.realtime.httpStage.url });
    if (this.realtime.userPool && this.realtime.userPoolClient) {
      new CfnOutput(this, 'UserPoolId', { value: this.realtime.userPool.userPoolId });
      new CfnOutput(this, 'UserPoolClientId', { value: this.realtime.userPoolClient.userPoolClientId });
    }
  }
}

export interface HeraldApp {
  readonly app: App;
  readonly stack: HeraldStack;
  readonly config: HeraldConfig;
}

/**
 * The app as `cdk synth` builds it, with cdk-nag attached so synth fails on any unacknowledged
 * finding. bin/app.ts and the infra tests share it, so tests check what ops deploy.
 *
 * @param context extra context on top of cdk.json's (the CLI's `-c` values win over both)
 * @throws ConfigError when a context value is invalid
 */
export function buildHeraldApp(context: Record<string, unknown> = {}): HeraldApp {
  // The CLI passes cdk.json's context itself; reading it here gives tests the same feature flags.
  const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const app = new App({ context: { ...cdkJson.context, ...context } });
  const config = readConfig((key) => app.node.tryGetContext(key));
  const stack = new HeraldStack(app, 'Herald', {
    description: 'Herald: realtime notifications, alert fan-out and scheduled exports',
    config,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, config };
}
