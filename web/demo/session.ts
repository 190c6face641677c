/**
 * What every page of the demo field app gets once a user has signed in (web/demo/main.ts builds
 * it): who is signed in, the HTTP API, tokens from the local issuer, and the one HeraldClient of
 * this tab, whose socket carries notifications, topic events and record changes.
 */
import type { HeraldClient } from '../client';

export interface DemoSession {
  readonly tenant: string;
  readonly user: string;
  /** Herald's HTTP API base URL (from /config.json). */
  readonly httpUrl: string;
  /** A token for the signed-in user, or for another user of the same tenant with the given roles (publishers, admins). */
  readonly token: (options?: { user?: string; roles?: string[] }) => Promise<string>;
  readonly client: HeraldClient;
  /** A line in the page's activity log. */
  readonly log: (line: string) => void;
}

/** A page: render into `root`; the function returned tears it down when the user signs out. */
export type PageMount = (root: HTMLElement, session: DemoSession) => () => void;
