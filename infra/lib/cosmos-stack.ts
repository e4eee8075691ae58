/**
 * The Cosmos stack (design §10): composes the table, media bucket, identity, HTTP and WebSocket
 * APIs and one Rust Lambda per function of `shared/contract/routes.json`, which alone decides
 * functions, routes, triggers, stream consumers, grants and environment.
 *
 * Dependency order avoids cycles: the WebSocket API and its stage exist before any function (a
 * function's CONNECTIONS_ENDPOINT needs the API id; the routes then need the functions), and the
 * user pool's triggers never take pool settings (contract.ts refuses it), so pool -> trigger
 * function is one-way while ws-connect -> pool is one-way too.
 */
import { CfnOutput, Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { StageConfig } from './config';
import {
  type CognitoTriggerName,
  type EnvVarName,
  type FunctionSpec,
  loadRoutes,
  loadTable,
  type RoutesContract,
  type TableContract,
} from './contract';
import { CosmosHttpApi, type ThrottleLimits } from './http-api';
import { Identity } from './identity';
import { MediaBucket } from './media-bucket';
import { acknowledge, nagResource } from './nag';
import { RustLambda } from './rust-lambda';
import { CosmosTable } from './table';
import { CosmosWebSocketApi } from './websocket-api';

export interface CosmosStackProps extends StackProps {
  readonly config: StageConfig;
  /** @default shared/contract/routes.json */
  readonly routes?: RoutesContract;
  /** @default shared/contract/table.json */
  readonly tableContract?: TableContract;
  /** @default the workspace root Cargo.toml */
  readonly manifestPath?: string;
}

/** Per-stage API throttling: protects the functions' concurrency and the table from one noisy client. */
const HTTP_THROTTLE: ThrottleLimits = { rateLimit: 500, burstLimit: 1000 };
const WS_THROTTLE: ThrottleLimits = { rateLimit: 500, burstLimit: 1000 };

/** Timeouts by what invokes the function (the shortest applies when several do). */
const TIMEOUTS = {
  // Cognito waits at most 5 s for a trigger and then fails the sign-up/sign-in.
  cognitoTrigger: Duration.seconds(5),
  // API Gateway gives up after 29-30 s; a chat route that takes 10 s has already failed its user.
  api: Duration.seconds(10),
  // One stream batch fans out to every subscribed connection, with retries and backoff on 429/5xx.
  streamConsumer: Duration.seconds(30),
} as const;

/** Names of the stack outputs: the same keys the local stack writes to `.cosmos/local.json`. */
export const OUTPUT_KEYS = [
  'httpApiUrl',
  'webSocketUrl',
  'region',
  'cognitoEndpoint',
  'userPoolId',
  'userPoolClientId',
  'bucket',
] as const;

export class CosmosStack extends Stack {
  public readonly table: CosmosTable;
  public readonly media: MediaBucket;
  public readonly identity: Identity;
  public readonly httpApi: CosmosHttpApi;
  public readonly webSocketApi: CosmosWebSocketApi;
  public readonly streamFailures: sqs.Queue;
  public readonly agoraCertificate: secretsmanager.Secret;
  /** routes.json function name => its Lambda. */
  public readonly functions: ReadonlyMap<string, RustLambda>;

  constructor(scope: Construct, id: string, props: CosmosStackProps) {
    super(scope, id, props);
    const { config } = props;
    const routes = props.routes ?? loadRoutes();
    const tableContract = props.tableContract ?? loadTable();
    const retain = config.retainData;
    const logRetention = retain ? logs.RetentionDays.THREE_MONTHS : logs.RetentionDays.ONE_MONTH;

    this.table = new CosmosTable(this, 'Data', { contract: tableContract, retain });
    this.media = new MediaBucket(this, 'Media', { webOrigins: config.webOrigins, retain });
    this.identity = new Identity(this, 'Identity', {
      stage: config.stage,
      threatProtection: config.threatProtection,
      retain,
    });
    this.webSocketApi = new CosmosWebSocketApi(this, 'WebSocket', {
      stage: config.stage,
      throttle: WS_THROTTLE,
      accessLogs: config.webSocketAccessLogs,
      logRetention,
      retain,
    });

    this.streamFailures = new sqs.Queue(this, 'StreamFailures', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    acknowledge(
      this.streamFailures,
      'AwsSolutions-SQS3',
      'This queue is itself the on-failure destination of the table stream event source mapping (records of batches that exhausted their retries); a DLQ for a DLQ adds nothing.',
    );
    new cloudwatch.Alarm(this, 'StreamFailuresAlarm', {
      alarmDescription: 'Stream records that ws-broadcast could not deliver after all retries (see the StreamFailures queue).',
      metric: this.streamFailures.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(5) }),
      threshold: 0,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      evaluationPeriods: 1,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });

    // The Agora app certificate (design §8). Its value is set by hand from Agora's console
    // (`aws secretsmanager put-secret-value`); the function that needs it is granted in a later issue.
    this.agoraCertificate = new secretsmanager.Secret(this, 'AgoraCertificate', {
      secretName: `cosmos/${config.stage}/agora-app-certificate`,
      description: 'Agora RTC app certificate for video-channel tokens (set the value from the Agora console).',
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    acknowledge(
      this.agoraCertificate,
      'AwsSolutions-SMG4',
      'The Agora app certificate is issued by Agora: it can only be rotated in the Agora console, then stored here by hand; a rotation Lambda has nothing to rotate.',
    );

    const env: Record<EnvVarName, string> = {
      TABLE_NAME: this.table.table.tableName,
      CONNECTIONS_ENDPOINT: this.webSocketApi.connectionsEndpoint,
      USER_POOL_ISSUER: this.identity.issuer,
      USER_POOL_JWKS_URL: this.identity.jwksUrl,
      USER_POOL_CLIENT_IDS: this.identity.client.userPoolClientId,
      BUCKET_NAME: this.media.bucket.bucketName,
    };

    const triggers = Object.entries(routes.cognitoTriggers) as [CognitoTriggerName, string][];
    const functions = new Map<string, RustLambda>();
    for (const [name, spec] of Object.entries(routes.functions)) {
      const fn = new RustLambda(this, `Fn-${name}`, {
        name,
        stage: config.stage,
        manifestPath: props.manifestPath,
        environment: Object.fromEntries(spec.environment.map((v) => [v, env[v]])),
        timeout: this.timeoutFor(name, routes),
        logRetention,
      });
      this.grant(fn, spec);
      functions.set(name, fn);
    }
    this.functions = functions;
    const handler = (name: string): lambda.IFunction => {
      const fn = functions.get(name);
      if (fn === undefined) throw new Error(`routes.json names an undeclared function ${name}`);
      return fn.function;
    };

    for (const [trigger, name] of triggers) this.identity.addTrigger(trigger, handler(name));

    this.httpApi = new CosmosHttpApi(this, 'Http', {
      stage: config.stage,
      routes: routes.httpRoutes,
      handlers: new Map([...functions].map(([name, fn]) => [name, fn.function])),
      jwtIssuer: this.identity.issuer,
      jwtAudience: [this.identity.client.userPoolClientId],
      webOrigins: config.webOrigins,
      throttle: HTTP_THROTTLE,
      logRetention,
      retain,
    });

    for (const route of routes.webSocketRoutes) this.webSocketApi.addRoute(route.routeKey, handler(route.function));

    for (const name of routes.tableStreamConsumers) {
      const fn = handler(name);
      fn.addEventSource(
        new DynamoEventSource(this.table.table, {
          // A recreated mapping must not replay a day of old events to live sockets; clients catch up over HTTP.
          startingPosition: lambda.StartingPosition.LATEST,
          batchSize: 100,
          maxBatchingWindow: Duration.seconds(0),
          reportBatchItemFailures: true,
          bisectBatchOnError: true,
          retryAttempts: 5,
          // Past this, an event is stale for a live socket; the record goes to the failure queue instead.
          maxRecordAge: Duration.hours(1),
          onFailure: new SqsDlq(this.streamFailures),
        }),
      );
      const role = functions.get(name)?.role;
      if (role !== undefined) {
        acknowledge(
          role,
          'AwsSolutions-IAM5[Resource::*]',
          'dynamodb:ListStreams has no resource-level permissions (AWSLambdaDynamoDBExecutionRole also grants it on *); it only lists stream ARNs, reading records stays scoped to this table\'s stream.',
        );
      }
    }

    const outputs: Record<(typeof OUTPUT_KEYS)[number], [string, string]> = {
      httpApiUrl: [this.httpApi.url, 'HTTP API base URL'],
      webSocketUrl: [this.webSocketApi.url, 'WebSocket URL (append ?token=<Cognito id or access token>)'],
      region: [this.region, 'AWS region'],
      cognitoEndpoint: [this.identity.cognitoEndpoint, 'Cognito user pools endpoint'],
      userPoolId: [this.identity.userPool.userPoolId, 'Cognito user pool id'],
      userPoolClientId: [this.identity.client.userPoolClientId, 'Cognito app client id (public, no secret)'],
      bucket: [this.media.bucket.bucketName, 'Media bucket name'],
    };
    for (const key of OUTPUT_KEYS) {
      const [value, description] = outputs[key];
      new CfnOutput(this, key, { value, description });
    }
  }

  private timeoutFor(name: string, routes: RoutesContract): Duration {
    if (Object.values(routes.cognitoTriggers).includes(name)) return TIMEOUTS.cognitoTrigger;
    const servesApi =
      routes.httpRoutes.some((r) => r.function === name) || routes.webSocketRoutes.some((r) => r.function === name);
    if (servesApi) return TIMEOUTS.api;
    return TIMEOUTS.streamConsumer;
  }

  /** Exactly the rights routes.json gives `fn`, each wildcard acknowledged with its reason. */
  private grant(fn: RustLambda, spec: FunctionSpec): void {
    const table = this.table.table;
    if (spec.table === 'read') table.grantReadData(fn.role);
    if (spec.table === 'readWrite') table.grantReadWriteData(fn.role);
    if (spec.table !== undefined) {
      acknowledge(
        fn.role,
        `AwsSolutions-IAM5[${nagResource(this, `${table.tableArn}/index/*`)}]`,
        'Index ARNs of the single table (GSI1 queries); the wildcard covers only this table\'s own indexes, never another table.',
      );
    }
    if (spec.connections) {
      this.webSocketApi.grantManageConnections(fn.role);
      acknowledge(
        fn.role,
        `AwsSolutions-IAM5[${nagResource(this, this.webSocketApi.connectionsArn)}]`,
        'Connection ids are created at run time, so @connections/* on this API\'s own stage is the narrowest ARN: no other API or stage is reachable.',
      );
    }
    if (spec.bucket !== undefined) {
      const bucket = this.media.bucket;
      if (spec.bucket === 'read') bucket.grantRead(fn.role);
      else bucket.grantReadWrite(fn.role);
      // The wildcard action groups of CDK's bucket grants (tests fail synth if this list drifts).
      const actions = ['s3:GetBucket*', 's3:GetObject*', 's3:List*'];
      if (spec.bucket === 'readWrite') actions.push('s3:DeleteObject*', 's3:Abort*');
      for (const action of actions) {
        acknowledge(
          fn.role,
          `AwsSolutions-IAM5[Action::${action}]`,
          'CDK\'s bucket grant action groups (object reads, tagging, multipart abort) on the media bucket only; keys are generated per upload.',
        );
      }
      acknowledge(
        fn.role,
        `AwsSolutions-IAM5[${nagResource(this, `${bucket.bucketArn}/*`)}]`,
        'Objects of the media bucket only: keys (media/<entityId>/<kind>/<ulid>.<ext>) are created per upload and authorized by the function.',
      );
    }
  }
}
