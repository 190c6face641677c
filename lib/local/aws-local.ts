/** Region and credentials every local SDK client signs with; the emulators accept any. */
export const LOCAL_REGION = 'us-east-1';
export const LOCAL_ACCOUNT = '000000000000';
export const LOCAL_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * `arn` with its region replaced. DynamoDB Local names its streams with region `ddblocal`; AWS
 * names them with the table's region, and that is what events and IAM requests carry.
 */
export function arnInRegion(arn: string, region: string = LOCAL_REGION): string {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return arn;
  parts[3] = region;
  return parts.join(':');
}
