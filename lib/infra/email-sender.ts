import { Annotations, Stack } from 'aws-cdk-lib';
import { Grant, type IGrantable } from 'aws-cdk-lib/aws-iam';
import { EmailIdentity, Identity } from 'aws-cdk-lib/aws-ses';
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
}

const DEFAULTS = { createIdentity: true } satisfies Partial<EmailSenderProps>;
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

  constructor(scope: Construct, id: string, props: EmailSenderProps) {
    super(scope, id);
    const { sender, createIdentity } = withDefaults(DEFAULTS, props);
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
   * Lets `grantee` send email from `sender` and from no other address. The resource is every
   * identity: SES authorizes a send against each identity it involves, recipients included (in the
   * sandbox they are identities too), and recipients are chosen by users at run time. Returns the
   * grant, whose wildcard cdk-nag reports, so the caller can acknowledge it on its own policy.
   */
  public grantSendEmail(grantee: IGrantable): Grant {
    return Grant.addToPrincipal({
      grantee,
      actions: ['ses:SendEmail'],
      resourceArns: [Stack.of(this).formatArn({ service: 'ses', resource: 'identity', resourceName: '*' })],
      conditions: { StringEquals: { 'ses:FromAddress': this.sender } },
    });
  }
}
