import { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { tracer } from '../shared/instrumentation';

/**
 * Real SDK clients. Endpoints are never chosen in code: locally the runtime sets the SDK's own
 * AWS_ENDPOINT_URL_<SERVICE> variables, and the @connections endpoint comes from the environment
 * in both places.
 */
let sharedDocumentClient: DynamoDBDocumentClient | undefined;

/** One client per execution environment, so every store of a handler shares its connections. */
export function documentClient(): DynamoDBDocumentClient {
  sharedDocumentClient ??= DynamoDBDocumentClient.from(tracer.captureAWSv3Client(new DynamoDBClient({})), {
    marshallOptions: { removeUndefinedValues: true },
  });
  return sharedDocumentClient;
}

export function connectionsApiClient(endpoint: string): ApiGatewayManagementApiClient {
  return tracer.captureAWSv3Client(new ApiGatewayManagementApiClient({ endpoint }));
}
