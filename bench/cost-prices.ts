/**
 * Published AWS prices, us-east-1, on-demand, without free tiers or volume discounts, that
 * `npm run cost` (bench/cost.ts) multiplies the measured request counts by. One place: change a
 * price here and regenerate docs/cost.md. Each price names its page; `checked` is the day the
 * figures were compared with it.
 */
export const PRICES_CHECKED = '2026-12-01';
export const PRICES_REGION = 'us-east-1';

export interface Price {
  /** US dollars per `per` units. */
  readonly usd: number;
  readonly per: number;
  readonly unit: string;
  readonly source: string;
  readonly note?: string;
}

export const PRICES = {
  webSocketMessages: {
    usd: 1.0,
    per: 1_000_000,
    unit: 'WebSocket messages (sent or received, metered per 32 KB)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
    note: 'first 1 billion a month; $0.80 after',
  },
  webSocketConnectionMinutes: {
    usd: 0.25,
    per: 1_000_000,
    unit: 'WebSocket connection minutes',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
  },
  httpApiRequests: {
    usd: 1.0,
    per: 1_000_000,
    unit: 'HTTP API requests (metered per 512 KB)',
    source: 'https://aws.amazon.com/api-gateway/pricing/',
    note: 'first 300 million a month; $0.90 after',
  },
  dynamoWriteRequestUnits: {
    usd: 0.625,
    per: 1_000_000,
    unit: 'DynamoDB on-demand write request units (1 KB; transactional 2 per KB)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoReadRequestUnits: {
    usd: 0.125,
    per: 1_000_000,
    unit: 'DynamoDB on-demand read request units (4 KB strongly consistent; eventually consistent half, transactional 2)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  dynamoStorageGbMonths: {
    usd: 0.25,
    per: 1,
    unit: 'DynamoDB Standard table storage, GB-month (first 25 GB free, not applied)',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
  },
  lambdaRequests: {
    usd: 0.2,
    per: 1_000_000,
    unit: 'Lambda requests',
    source: 'https://aws.amazon.com/lambda/pricing/',
  },
  lambdaGbSeconds: {
    usd: 0.0000133334,
    per: 1,
    unit: 'Lambda duration, GB-second, Arm (Herald deploys arm64)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    note: 'first 7.5 billion GB-s a month',
  },
  sesEmails: {
    usd: 0.1,
    per: 1_000,
    unit: 'SES outbound emails (per recipient)',
    source: 'https://aws.amazon.com/ses/pricing/',
  },
  s3Tier1Requests: {
    usd: 0.005,
    per: 1_000,
    unit: 'S3 Standard PUT, COPY, POST, LIST requests (each multipart part is one)',
    source: 'https://aws.amazon.com/s3/pricing/',
  },
  s3Tier2Requests: {
    usd: 0.0004,
    per: 1_000,
    unit: 'S3 Standard GET and other requests',
    source: 'https://aws.amazon.com/s3/pricing/',
  },
  s3StorageGbMonths: {
    usd: 0.023,
    per: 1,
    unit: 'S3 Standard storage, GB-month (first 50 TB)',
    source: 'https://aws.amazon.com/s3/pricing/',
  },
  dataTransferOutGb: {
    usd: 0.09,
    per: 1,
    unit: 'data transfer out to the internet, GB (after the first 100 GB a month; up to 10 TB)',
    source: 'https://aws.amazon.com/ec2/pricing/on-demand/#Data_Transfer',
  },
  schedulerInvocations: {
    usd: 1.0,
    per: 1_000_000,
    unit: 'EventBridge Scheduler invocations (metered per 256 KB; 14 million a month free, not applied)',
    source: 'https://aws.amazon.com/eventbridge/pricing/',
  },
  sqsRequests: {
    usd: 0.4,
    per: 1_000_000,
    unit: 'SQS standard queue requests (metered per 64 KB)',
    source: 'https://aws.amazon.com/sqs/pricing/',
  },
} as const satisfies Record<string, Price>;

export type PriceName = keyof typeof PRICES;
export type Prices = Readonly<Record<PriceName, Price>>;
