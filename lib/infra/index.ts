/**
 * Herald's CDK constructs, one per capability, for a deployer's own app (docs/constructs.md).
 * HeraldStack composes all of them; each can also be used on its own.
 */
export { AlertFanout, type AlertFanoutProps, type FanoutOptions } from './alert-fanout';
export { ApiGatewayLogging } from './api-gateway-logging';
export { EmailSender, type EmailSenderProps } from './email-sender';
export { HeraldData, type HeraldDataProps } from './herald-data';
export { bundling, HeraldFunction, type FunctionResources, type HeraldFunctionProps } from './herald-function';
export { HeraldFunctions, type HeraldFunctionsProps } from './herald-functions';
export { buildHeraldApp, HeraldStack, type DescribedResources, type HeraldApp, type HeraldStackProps } from './herald-stack';
export { HttpApiAndIdentity, type HttpApiAndIdentityProps, type HttpRouteOptions, type JwtIssuer } from './http-api-and-identity';
export { RecordsSync, type RecordsSyncProps } from './records-sync';
export { RealtimeApi, type ConnectRouteOptions, type RealtimeApiProps, type WebSocketRouteOptions } from './realtime-api';
export { ScheduledExports, type ScheduledExportsProps } from './scheduled-exports';
export { acknowledge, acknowledgeWildcardResources } from './nag';
export { InvalidPropsError, type Throttle } from './support';
