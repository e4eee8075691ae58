import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Capture, Match } from 'aws-cdk-lib/assertions';
import { loadRoutes } from '../lib/contract';
import { lambdaFunction, resources, synth } from './helpers';

const { template } = synth();
const routes = loadRoutes();

const apis = resources(template, 'AWS::ApiGatewayV2::Api');
const httpApi = apis.find((a) => a.properties['ProtocolType'] === 'HTTP')!;
const wsApi = apis.find((a) => a.properties['ProtocolType'] === 'WEBSOCKET')!;
const userPool = resources(template, 'AWS::Cognito::UserPool')[0]!.logicalId;
const client = resources(template, 'AWS::Cognito::UserPoolClient')[0]!.logicalId;
const region = { Ref: 'AWS::Region' };
const urlSuffix = { Ref: 'AWS::URLSuffix' };
const issuer = { 'Fn::Join': ['', ['https://cognito-idp.', region, '.', urlSuffix, '/', { Ref: userPool }]] };

function routesOf(apiLogicalId: string) {
  return resources(template, 'AWS::ApiGatewayV2::Route').filter(
    (r) => (r.properties['ApiId'] as { Ref: string }).Ref === apiLogicalId,
  );
}

/** The function an API route's integration invokes, by its `cosmos:function` tag. */
function integratedFunction(route: { properties: Record<string, unknown> }): string {
  const target = route.properties['Target'] as { 'Fn::Join': [string, [string, { Ref: string }]] };
  const integrationId = target['Fn::Join'][1][1].Ref;
  const integration = resources(template, 'AWS::ApiGatewayV2::Integration').find((i) => i.logicalId === integrationId)!;
  const uri = JSON.stringify(integration.properties['IntegrationUri']);
  const name = Object.keys(routes.functions).find((n) => uri.includes(`"${lambdaFunction(template, n).logicalId}"`));
  assert.ok(name !== undefined, `integration ${integrationId} invokes no known function`);
  return name;
}

describe('the HTTP API', () => {
  assert.ok(httpApi !== undefined && wsApi !== undefined);
  const authorizers = resources(template, 'AWS::ApiGatewayV2::Authorizer').filter(
    (a) => (a.properties['ApiId'] as { Ref: string }).Ref === httpApi.logicalId,
  );

  it('has one JWT authorizer: the pool as issuer, the app client as audience', () => {
    assert.equal(authorizers.length, 1);
    assert.deepEqual(authorizers[0]!.properties, {
      ApiId: { Ref: httpApi.logicalId },
      AuthorizerType: 'JWT',
      IdentitySource: ['$request.header.Authorization'],
      JwtConfiguration: { Audience: [{ Ref: client }], Issuer: issuer },
      Name: 'cognito-jwt',
    });
  });

  it('has exactly the routes of routes.json', () => {
    assert.deepEqual(
      routesOf(httpApi.logicalId).map((r) => r.properties['RouteKey']).sort(),
      routes.httpRoutes.map((r) => r.routeKey).sort(),
    );
  });

  for (const route of routes.httpRoutes) {
    it(`routes ${route.routeKey} to ${route.function} behind the JWT authorizer`, () => {
      const found = routesOf(httpApi.logicalId).find((r) => r.properties['RouteKey'] === route.routeKey);
      assert.ok(found !== undefined);
      assert.equal(found.properties['AuthorizationType'], 'JWT');
      assert.deepEqual(found.properties['AuthorizerId'], { Ref: authorizers[0]!.logicalId });
      assert.equal(integratedFunction(found), route.function);
    });
  }

  it('uses payload format 2.0 Lambda proxy integrations', () => {
    for (const integration of resources(template, 'AWS::ApiGatewayV2::Integration')) {
      if ((integration.properties['ApiId'] as { Ref: string }).Ref !== httpApi.logicalId) continue;
      assert.equal(integration.properties['IntegrationType'], 'AWS_PROXY');
      assert.equal(integration.properties['PayloadFormatVersion'], '2.0');
    }
  });

  it('answers CORS preflight for the web origin', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      CorsConfiguration: Match.objectLike({
        AllowOrigins: ['http://localhost:5173', 'http://127.0.0.1:5173'],
        AllowHeaders: Match.arrayWith(['authorization', 'content-type']),
      }),
    });
  });

  it('serves from an auto-deployed, throttled, access-logged $default stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: httpApi.logicalId },
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: Match.objectLike({ ThrottlingRateLimit: Match.anyValue(), ThrottlingBurstLimit: Match.anyValue() }),
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('"requestId":"\\$context.requestId"') },
    });
  });
});

describe('the WebSocket API', () => {
  it('routes by the frame action', () => {
    assert.equal(wsApi.properties['RouteSelectionExpression'], '$request.body.action');
  });

  it('has exactly the routes of routes.json, each to its function', () => {
    const found = routesOf(wsApi.logicalId);
    assert.deepEqual(found.map((r) => r.properties['RouteKey']).sort(), routes.webSocketRoutes.map((r) => r.routeKey).sort());
    for (const route of routes.webSocketRoutes) {
      const r = found.find((x) => x.properties['RouteKey'] === route.routeKey)!;
      assert.equal(integratedFunction(r), route.function, route.routeKey);
    }
  });

  it('has an auto-deployed stage named after the CDK stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', { ApiId: { Ref: wsApi.logicalId }, StageName: 'dev', AutoDeploy: true });
  });

  it('gets access logs when the account has the API Gateway CloudWatch role', () => {
    const withLogs = synth({ context: { webSocketAccessLogs: 'true' } }).template;
    const ws = resources(withLogs, 'AWS::ApiGatewayV2::Api').find((a) => a.properties['ProtocolType'] === 'WEBSOCKET')!;
    withLogs.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      ApiId: { Ref: ws.logicalId },
      AccessLogSettings: { DestinationArn: Match.anyValue(), Format: Match.stringLikeRegexp('connectionId') },
    });
  });
});

describe('the table stream', () => {
  it('feeds each consumer with partial batch failures, bisection, bounded retries and a failure queue', () => {
    const mappings = resources(template, 'AWS::Lambda::EventSourceMapping');
    assert.equal(mappings.length, routes.tableStreamConsumers.length);
    const table = resources(template, 'AWS::DynamoDB::Table')[0]!.logicalId;
    const queue = resources(template, 'AWS::SQS::Queue')[0]!.logicalId;
    for (const consumer of routes.tableStreamConsumers) {
      const retries = new Capture();
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        FunctionName: { Ref: lambdaFunction(template, consumer).logicalId },
        EventSourceArn: { 'Fn::GetAtt': [table, 'StreamArn'] },
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: retries,
        MaximumRecordAgeInSeconds: Match.anyValue(),
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queue, 'Arn'] } } },
      });
      assert.ok(retries.asNumber() >= 0 && retries.asNumber() <= 10);
    }
  });
});

describe('function settings', () => {
  const env = (name: string) =>
    ((lambdaFunction(template, name).properties['Environment'] as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {});

  it('gives each function exactly the environment routes.json lists', () => {
    for (const [name, spec] of Object.entries(routes.functions)) {
      assert.deepEqual(Object.keys(env(name)).sort(), [...spec.environment].sort(), name);
    }
  });

  it('fills the environment values from the stack', () => {
    const table = resources(template, 'AWS::DynamoDB::Table')[0]!.logicalId;
    const expected: Record<string, unknown> = {
      TABLE_NAME: { Ref: table },
      CONNECTIONS_ENDPOINT: {
        'Fn::Join': ['', ['https://', { Ref: wsApi.logicalId }, '.execute-api.', region, '.', urlSuffix, '/dev']],
      },
      USER_POOL_ISSUER: issuer,
      USER_POOL_JWKS_URL: {
        'Fn::Join': ['', ['https://cognito-idp.', region, '.', urlSuffix, '/', { Ref: userPool }, '/.well-known/jwks.json']],
      },
      USER_POOL_CLIENT_IDS: { Ref: client },
    };
    for (const name of Object.keys(routes.functions)) {
      for (const [key, value] of Object.entries(env(name))) {
        assert.deepEqual(value, expected[key], `${name} ${key}`);
      }
    }
  });

  it('builds every function for arm64 on provided.al2023 with JSON logs into its own log group', () => {
    const groups = new Set<string>();
    for (const name of Object.keys(routes.functions)) {
      const props = lambdaFunction(template, name).properties;
      assert.deepEqual(props['Architectures'], ['arm64'], name);
      assert.equal(props['Runtime'], 'provided.al2023', name);
      assert.equal(props['Handler'], 'bootstrap', name);
      const logging = props['LoggingConfig'] as { LogFormat: string; LogGroup: { Ref: string } };
      assert.equal(logging.LogFormat, 'JSON', name);
      groups.add(logging.LogGroup.Ref);
    }
    assert.equal(groups.size, Object.keys(routes.functions).length);
    template.resourceCountIs('Custom::LogRetention', 0);
  });

  it('gives Cognito triggers a timeout under Cognito\'s 5 second limit', () => {
    for (const name of new Set(Object.values(routes.cognitoTriggers))) {
      assert.ok((lambdaFunction(template, name).properties['Timeout'] as number) <= 5, name);
    }
  });
});
