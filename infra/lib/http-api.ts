/**
 * The HTTP API (design §4): one route per route key in routes.json, every route behind API
 * Gateway's JWT authorizer for the Cognito pool (issuer = the pool, audience = the app client),
 * payload format 2.0, CORS for the web origin, throttled and access-logged `$default` stage.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { HttpRouteSpec } from './contract';

export interface ThrottleLimits {
  readonly rateLimit: number;
  readonly burstLimit: number;
}

export interface CosmosHttpApiProps {
  readonly stage: string;
  readonly routes: readonly HttpRouteSpec[];
  /** Function name (routes.json) => handler. */
  readonly handlers: ReadonlyMap<string, lambda.IFunction>;
  /** The pool's issuer, `https://cognito-idp.<region>.amazonaws.com/<poolId>`. */
  readonly jwtIssuer: string;
  /** Allowed `aud` (id tokens) / `client_id` (access tokens): the app client ids. */
  readonly jwtAudience: readonly string[];
  readonly webOrigins: readonly string[];
  readonly throttle: ThrottleLimits;
  readonly logRetention: logs.RetentionDays;
  readonly retain: boolean;
}

/** JSON access log line: no tokens, no query strings, no bodies. */
const ACCESS_LOG_FORMAT = AccessLogFormat.custom(
  JSON.stringify({
    requestId: '$context.requestId',
    ip: '$context.identity.sourceIp',
    requestTime: '$context.requestTime',
    routeKey: '$context.routeKey',
    status: '$context.status',
    protocol: '$context.protocol',
    responseLength: '$context.responseLength',
    latency: '$context.responseLatency',
    integrationLatency: '$context.integrationLatency',
    integrationError: '$context.integrationErrorMessage',
    authorizerError: '$context.authorizer.error',
    sub: '$context.authorizer.claims.sub',
  }),
);

export class CosmosHttpApi extends Construct {
  public readonly api: apigw.HttpApi;
  public readonly stage: apigw.HttpStage;
  public readonly authorizer: HttpJwtAuthorizer;
  public readonly accessLogs: logs.LogGroup;

  constructor(scope: Construct, id: string, props: CosmosHttpApiProps) {
    super(scope, id);

    this.authorizer = new HttpJwtAuthorizer('CognitoJwt', props.jwtIssuer, {
      authorizerName: 'cognito-jwt',
      jwtAudience: [...props.jwtAudience],
      identitySource: ['$request.header.Authorization'],
    });

    this.api = new apigw.HttpApi(this, 'Api', {
      apiName: `cosmos-${props.stage}-http`,
      description: `Cosmos ${props.stage} HTTP API`,
      createDefaultStage: false,
      defaultAuthorizer: this.authorizer,
      corsPreflight: {
        allowOrigins: [...props.webOrigins],
        allowMethods: [
          apigw.CorsHttpMethod.GET,
          apigw.CorsHttpMethod.POST,
          apigw.CorsHttpMethod.PUT,
          apigw.CorsHttpMethod.PATCH,
          apigw.CorsHttpMethod.DELETE,
        ],
        allowHeaders: ['authorization', 'content-type'],
        exposeHeaders: ['retry-after', 'www-authenticate'],
        maxAge: Duration.days(1),
      },
    });

    this.accessLogs = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.stage = new apigw.HttpStage(this, 'DefaultStage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new apigw.LogGroupLogDestination(this.accessLogs),
        format: ACCESS_LOG_FORMAT,
      },
    });

    const integrations = new Map<string, HttpLambdaIntegration>();
    for (const route of props.routes) {
      const handler = props.handlers.get(route.function);
      if (handler === undefined) throw new Error(`HTTP route ${route.routeKey}: no handler for ${route.function}`);
      let integration = integrations.get(route.function);
      if (integration === undefined) {
        integration = new HttpLambdaIntegration(`${route.function}-integration`, handler, {
          payloadFormatVersion: apigw.PayloadFormatVersion.VERSION_2_0,
        });
        integrations.set(route.function, integration);
      }
      this.api.addRoutes({
        path: route.path,
        methods: [apigw.HttpMethod[route.method]],
        integration,
        authorizer: this.authorizer,
      });
    }
  }

  /** `https://<apiId>.execute-api.<region>.amazonaws.com` (the `$default` stage serves at the root). */
  public get url(): string {
    return this.api.apiEndpoint;
  }
}
