import { Annotations, Stack } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import {
  CloudWatchDimensionSource,
  ConfigurationSet,
  EmailIdentity,
  EmailSendingEvent,
  EventDestination,
  Identity,
  SuppressionReasons,
} from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';
import { EMAIL } from '#functions/shared/email';
import { InvalidPropsError, requireMatch, withDefaults } from './support';

export interface EmailSenderProps {
  /** The one address Herald's emails (export links, critical alerts) come from. */
  readonly sender: string;
  /**
   * Verify this domain (Easy DKIM: three CNAME records, see `dkimRecords`) instead of the single
   * address. `sender` must be an address at it or at one of its subdomains.
   * @default none: the address itself is the identity (SES emails it a verification link)
   */
  readonly identityDomain?: string;
  /**
   * Create the SES identity here. False when it is managed elsewhere (another stage of Herald in
   * the same account and region, say); it must then be verified already.
   * @default true
   */
  readonly createIdentity?: boolean;
  /**
   * Name of the SES configuration set every send names; it publishes sends, deliveries, bounces,
   * complaints and rejects to CloudWatch (namespace AWS/SES, dimension `ses:configuration-set`).
   * @default `<stack name>-email`
   */
  readonly configurationSetName?: string;
}

const DEFAULTS = { createIdentity: true } satisfies Partial<EmailSenderProps>;
const CONFIGURATION_SET_NAME = /^[A-Za-z0-9_-]{1,64}$/;
/** The CloudWatch dimension SES's event destination publishes each configuration set's counts under. */
export const SES_CONFIGURATION_SET_DIMENSION = 'ses:configuration-set';
const DOMAIN = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$/;

/**
 * The sender of Herald's emails: its SES identity (the address, or the domain with DKIM), and the
 * one grant that lets a function send from it. Deleting the stack deletes the identity, so a
 * failed first deploy can simply be retried.
 */
export class EmailSender extends Construct {
  /** The From address every email uses. */
  public readonly sender: string;
  /** The SES identity; absent with `createIdentity: false`. */
  public readonly emailIdentity?: EmailIdentity;
  /** The domain verified instead of the address, when one is. */
  public readonly identityDomain?: string;
  /** The configuration set every send names, so SES counts its bounces and complaints in CloudWatch. */
  public readonly configurationSet: ConfigurationSet;
  /** Its name, known at synth (the functions' `emailConfigurationSet` setting). */
  public readonly configurationSetName: string;

  constructor(scope: Construct, id: string, props: EmailSenderProps) {
    super(scope, id);
    const { sender, createIdentity, configurationSetName } = withDefaults({ ...DEFAULTS, configurationSetName: `${Stack.of(this).stackName}-email` }, props);
    requireMatch(this, 'configurationSetName', configurationSetName, CONFIGURATION_SET_NAME, '1-64 letters, digits, _ and -');
    const identityDomain = props.identityDomain?.toLowerCase();
    requireMatch(this, 'sender', sender, EMAIL, 'one plain address such as herald@example.com');
    if (identityDomain !== undefined) {
      requireMatch(this, 'identityDomain', identityDomain, DOMAIN, 'a domain name such as example.com');
      if (!createIdentity)
        throw new InvalidPropsError(this, 'identityDomain', 'chooses the identity this construct creates, and createIdentity is false: set one or the other.');
      const senderDomain = sender.split('@')[1]!.toLowerCase();
      if (senderDomain !== identityDomain && !senderDomain.endsWith(`.${identityDomain}`)) {
        throw new InvalidPropsError(
          this,
          'identityDomain',
          `is "${identityDomain}", but the sender ${sender} is not an address at it or at one of its subdomains, so SES would not let Herald send from it.`,
        );
      }
    }
    this.sender = sender;
    this.identityDomain = identityDomain;
    this.configurationSetName = configurationSetName;
    // Bounce and complaint rates come from these counts (lib/infra/observability.ts); SES's own
    // account-level suppression list still applies to bounces and complaints.
    this.configurationSet = new ConfigurationSet(this, 'ConfigurationSet', {
      configurationSetName,
      suppressionReasons: SuppressionReasons.BOUNCES_AND_COMPLAINTS,
    });
    this.configurationSet.addEventDestination('CloudWatch', {
      destination: EventDestination.cloudWatchDimensions([
        // SES tags every message with its configuration set's name, so this one dimension splits nothing.
        { name: SES_CONFIGURATION_SET_DIMENSION, source: CloudWatchDimensionSource.MESSAGE_TAG, defaultValue: configurationSetName },
      ]),
      events: [EmailSendingEvent.SEND, EmailSendingEvent.DELIVERY, EmailSendingEvent.BOUNCE, EmailSendingEvent.COMPLAINT, EmailSendingEvent.REJECT],
    });
    if (!createIdentity) {
      Annotations.of(this).addInfo(
        `createEmailIdentity=false: the stack creates no SES identity; ${sender} (or its domain) must already be verified in SES in this account and region.`,
      );
      return;
    }
    this.emailIdentity = new EmailIdentity(this, 'EmailIdentity', {
      identity: identityDomain === undefined ? Identity.email(sender) : Identity.domain(identityDomain),
    });
    Annotations.of(this).addInfo(
      identityDomain === undefined
        ? `SES identity: the address ${sender}. SES emails it a verification link after deploy; nothing is sent until it is clicked (docs/deploy.md).`
        : `SES identity: the domain ${identityDomain} with DKIM. Publish the three DkimRecord outputs as CNAME records; nothing is sent until SES sees them (docs/deploy.md).`,
    );
  }

  /** The three Easy DKIM records (`name CNAME value`) to publish; empty unless a domain is verified here. */
  public get dkimRecords(): string[] {
    const identity = this.emailIdentity;
    if (identity === undefined || this.identityDomain === undefined) return [];
    return [
      [identity.dkimDnsTokenName1, identity.dkimDnsTokenValue1],
      [identity.dkimDnsTokenName2, identity.dkimDnsTokenValue2],
      [identity.dkimDnsTokenName3, identity.dkimDnsTokenValue3],
    ].map(([name, value]) => `${name} CNAME ${value}`);
  }

  /**
   * Lets `grantee` send email from `sender` and from no other address, through the configuration
   * set. The resources are every identity (SES authorizes a send against each identity it
   * involves, recipients included: in the sandbox they are identities too, and recipients are
   * chosen by users at run time) and the configuration set, which SES authorizes ses:SendEmail
   * against too when a send names one (docs/operations.md, "Email events"). Returns the grant,
   * whose wildcard cdk-nag reports, so the caller can acknowledge it on its own policy.
   */
  public grantSendEmail(grantee: IGrantable): Grant {
    const stack = Stack.of(this);
    return Grant.addToPrincipal({
      grantee,
      actions: ['ses:SendEmail'],
      resourceArns: [
        stack.formatArn({ service: 'ses', resource: 'identity', resourceName: '*' }),
        stack.formatArn({ service: 'ses', resource: 'configuration-set', resourceName: this.configurationSetName }),
      ],
      conditions: { StringEquals: { 'ses:FromAddress': this.sender } },
    });
  }
}
