import { Annotations, RemovalPolicy, type CfnResource } from 'aws-cdk-lib';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Construct, type IConstruct } from 'constructs';
import { acknowledge } from './nag';

/**
 * API Gateway's account-level CloudWatch role: API Gateway writes access logs with one role per
 * account and region, set outside any API, and a stage with access logging fails to create while
 * the account has none (docs/deploy.md). This is a role with AWS's managed policy and the
 * AWS::ApiGateway::Account that names it. Both are retained on deletion, as CDK's RestApi does:
 * the setting is the account's, and other APIs may log through it by then. It has no props: there
 * is one such setting per account and region, and this replaces any set before.
 */
export class ApiGatewayLogging extends Construct {
  public readonly role: Role;
  public readonly account: CfnAccount;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    // The construct ids below are the ones these resources have always had in the Herald stack.
    this.role = new Role(this, 'ApiGatewayCloudWatchRole', {
      assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
      description: "API Gateway's account-level role for writing access and execution logs to CloudWatch",
      managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
    });
    this.role.applyRemovalPolicy(RemovalPolicy.RETAIN);
    acknowledge(
      this.role.node.defaultChild as CfnResource,
      'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
      "This is API Gateway's account-wide logging role: it writes the log groups of every API in the account and region, so its resources are not Herald's to enumerate, and AWS maintains this policy for exactly this role (docs/deploy.md).",
    );
    this.account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: this.role.roleArn });
    this.account.applyRemovalPolicy(RemovalPolicy.RETAIN);
    Annotations.of(this).addInfo(
      "createApiGatewayAccountRole=true: this stack sets API Gateway's CloudWatch role for the whole account and region (replacing any role set before) and retains it on deletion.",
    );
  }

  /** Makes each stage wait for the account setting: a stage with access logging fails to create before it. */
  public precede(...stages: IConstruct[]): void {
    for (const stage of stages) stage.node.addDependency(this.account);
  }
}
