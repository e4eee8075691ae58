/**
 * The WebSocket API (design §5) and its stage: `$connect` / `$disconnect` / `$default` (and any
 * other route key routes.json lists), routed by the frame's `action`. Functions that post to
 * connections get `execute-api:ManageConnections` on this stage's `@connections` only.
 */
import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { ThrottleLimits } from './http-api';
import { acknowledge } from './nag';

export interface CosmosWebSocketApiProps {
  /** Also the WebSocket stage name: `wss://<api>/<stage>`. */
  readonly stage: string;
  readonly throttle: ThrottleLimits;
  /**
   * Access logs for a WebSocket stage need the account-wide API Gateway CloudWatch role
   * (`AWS::ApiGateway::Account`), which one stack should not own. Turn on once the account has it.
   */
  readonly accessLogs: boolean;
  readonly logRetention: logs.RetentionDays;
  readonly retain: boolean;
}

/** JSON access log line: no query string (it carries the token on `$connect`), no bodies. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    ip: '$context.identity.sourceIp',
    requestTime: '$context.requestTime',
    eventType: '$context.eventType',
    routeKey: '$context.routeKey',
    connectionId: '$context.connectionId',
    status: '$context.status',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
  }),
);

export class CosmosWebSocketApi extends Construct {
  public readonly api: apigw.WebSocketApi;
  public readonly stage: apigw.WebSocketStage;

  constructor(scope: Construct, id: string, props: CosmosWebSocketApiProps) {
    super(scope, id);

    this.api = new apigw.WebSocketApi(this, 'Api', {
      apiName: `cosmos-${props.stage}-ws`,
      description: `Cosmos ${props.stage} WebSocket API`,
      routeSelectionExpression: '$request.body.action',
    });

    let accessLogSettings: apigw.IAccessLogSettings | undefined;
    if (props.accessLogs) {
      const group = new logs.LogGroup(this, 'AccessLogs', {
        retention: props.logRetention,
        removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      });
      accessLogSettings = { destination: new apigw.LogGroupLogDestination(group), format: ACCESS_LOG_FORMAT };
    }
    this.stage = new apigw.WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stage,
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings,
    });
    if (!props.accessLogs) {
      acknowledge(
        this.stage,
        'AwsSolutions-APIG1',
        'WebSocket stage access logs need the account-wide API Gateway CloudWatch role (AWS::ApiGateway::Account), a per-account setting this stack must not own; deploy with -c webSocketAccessLogs=true once the account has it. Function logs cover every route meanwhile.',
      );
    }
  }

  /** Routes `routeKey` to `handler` (Lambda proxy integration). */
  public addRoute(routeKey: string, handler: lambda.IFunction): apigw.WebSocketRoute {
    const route = this.api.addRoute(routeKey, {
      integration: new WebSocketLambdaIntegration(`${routeKey.replace(/^\$/, '')}-integration`, handler),
    });
    acknowledge(
      route,
      'AwsSolutions-APIG4',
      routeKey === '$connect'
        ? 'The $connect handler (ws-connect) verifies the Cognito token from the token query parameter itself (RS256, iss, exp, token_use, aud/client_id against the pool JWKS; design section 6) and refuses the upgrade with 401.'
        : `API Gateway allows authorizers on $connect only; ${routeKey} runs only on connections that passed the authenticated $connect, and its handler reads the user from the connection item.`,
    );
    return route;
  }

  /** `arn:aws:execute-api:<region>:<account>:<apiId>/<stage>/*\/@connections/*`: this stage's connections only. */
  public get connectionsArn(): string {
    const arn = Stack.of(this).formatArn({ service: 'execute-api', resource: this.api.apiId });
    return `${arn}/${this.stage.stageName}/*/@connections/*`;
  }

  /** `execute-api:ManageConnections` on {@link connectionsArn} only. */
  public grantManageConnections(grantee: iam.IGrantable): iam.Grant {
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:ManageConnections'],
      resourceArns: [this.connectionsArn],
    });
  }

  /** `wss://<apiId>.execute-api.<region>.amazonaws.com/<stage>` */
  public get url(): string {
    return this.stage.url;
  }

  /** `https://<apiId>.execute-api.<region>.amazonaws.com/<stage>`: the @connections management endpoint base. */
  public get connectionsEndpoint(): string {
    return this.stage.callbackUrl;
  }
}
