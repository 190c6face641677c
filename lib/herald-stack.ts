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
    const identity = this.realtime.emailIdentity;
    if (identity && props.config.emailIdentityDomain !== undefined) {
      // Easy DKIM: SES verifies the domain once these three CNAME records resolve.
      const records = [
        [identity.dkimDnsTokenName1, identity.dkimDnsTokenValue1],
        [identity.dkimDnsTokenName2, identity.dkimDnsTokenValue2],
        [identity.dkimDnsTokenName3, identity.dkimDnsTokenValue3],
      ];
      records.forEach(([name, value], index) => {
        new CfnOutput(this, `DkimRecord${index + 1}`, { value: `${name} CNAME ${value}`, description: 'Publish in DNS: SES verifies the sender domain by it' });
      });
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
 * @param options.nagChecks attach cdk-nag (default true; only the local runtime's role reading turns it off)
 * @throws ConfigError when a context value is invalid
 */
export function buildHeraldApp(context: Record<string, unknown> = {}, options: { readonly nagChecks?: boolean } = {}): HeraldApp {
  // The CLI passes cdk.json's context itself; reading it here gives tests the same feature flags.
  const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  const app = new App({ context: { ...cdkJson.context, ...context } });
  const config = readConfig((key) => app.node.tryGetContext(key));
  // The construct id is the stack name, so `cdk deploy`, `cdk diff` and `cdk destroy` name it.
  const stack = new HeraldStack(app, config.stackName, {
    description: 'Herald: realtime notifications, alert fan-out and scheduled exports',
    config,
  });
  // The local runtime reads only the roles, and the checks are most of synthesis time.
  if (options.nagChecks ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, config };
}
