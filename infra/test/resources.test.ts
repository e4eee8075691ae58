import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Capture, Match } from 'aws-cdk-lib/assertions';
import { loadTable } from '../lib/contract';
import { PENDING_UPLOAD_TAG } from '../lib/media-bucket';
import { OUTPUT_KEYS } from '../lib/cosmos-stack';
import { lambdaFunction, resources, synth } from './helpers';

const { template } = synth();
const contract = loadTable();

describe('the table', () => {
  it('has exactly the keys, index, TTL and stream of table.json', () => {
    const keys = [{ AttributeName: contract.partitionKey, KeyType: 'HASH' }];
    if (contract.sortKey !== undefined) keys.push({ AttributeName: contract.sortKey, KeyType: 'RANGE' });
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: keys,
      GlobalSecondaryIndexes: contract.indexes.map((ix) => ({
        IndexName: ix.indexName,
        KeySchema: [
          { AttributeName: ix.partitionKey, KeyType: 'HASH' },
          ...(ix.sortKey === undefined ? [] : [{ AttributeName: ix.sortKey, KeyType: 'RANGE' }]),
        ],
        Projection: { ProjectionType: 'ALL' },
      })),
      TimeToLiveSpecification: { AttributeName: contract.timeToLiveAttribute, Enabled: true },
      StreamSpecification: { StreamViewType: contract.streamView },
    });
  });

  it('declares every key attribute as a string', () => {
    const attrs = new Capture();
    template.hasResourceProperties('AWS::DynamoDB::Table', { AttributeDefinitions: attrs });
    const names = [contract.partitionKey, contract.sortKey, ...contract.indexes.flatMap((i) => [i.partitionKey, i.sortKey])].filter(
      (n): n is string => n !== undefined,
    );
    assert.deepEqual(
      [...(attrs.asArray() as { AttributeName: string; AttributeType: string }[])].sort((a, b) => a.AttributeName.localeCompare(b.AttributeName)),
      names.map((AttributeName) => ({ AttributeName, AttributeType: 'S' })).sort((a, b) => a.AttributeName.localeCompare(b.AttributeName)),
    );
  });

  it('is on-demand, encrypted with a KMS key and has point-in-time recovery', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      SSESpecification: { SSEEnabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('is deleted with a dev stack but retained and deletion-protected on prod', () => {
    template.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Delete' });
    const prod = synth({ context: { stage: 'prod', webOrigin: 'https://app.example.com' } }).template;
    prod.hasResource('AWS::DynamoDB::Table', { DeletionPolicy: 'Retain', Properties: Match.objectLike({ DeletionProtectionEnabled: true }) });
    prod.hasResourceProperties('AWS::Cognito::UserPool', { UserPoolTier: 'PLUS', UserPoolAddOns: { AdvancedSecurityMode: 'ENFORCED' } });
  });
});

describe('the media bucket', () => {
  const media = () => {
    const found = resources(template, 'AWS::S3::Bucket').filter((b) => b.properties['CorsConfiguration'] !== undefined);
    assert.equal(found.length, 1);
    return found[0]!;
  };

  it('blocks every kind of public access and uses S3-managed encryption', () => {
    for (const bucket of resources(template, 'AWS::S3::Bucket')) {
      assert.deepEqual(bucket.properties['PublicAccessBlockConfiguration'], {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      assert.deepEqual(bucket.properties['BucketEncryption'], {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      });
    }
  });

  it('refuses requests without TLS in its bucket policy', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: media().logicalId },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('allows browser PUT/GET from the web origin only', () => {
    assert.deepEqual(media().properties['CorsConfiguration'], {
      CorsRules: [
        {
          AllowedHeaders: ['content-type', 'content-disposition', 'x-amz-*'],
          AllowedMethods: ['PUT', 'GET', 'HEAD'],
          AllowedOrigins: ['http://localhost:5173', 'http://127.0.0.1:5173'],
          ExposedHeaders: ['ETag'],
          MaxAge: 3600,
        },
      ],
    });
  });

  it('expires uploads still tagged pending after a day', () => {
    const rules = (media().properties['LifecycleConfiguration'] as { Rules: Record<string, unknown>[] }).Rules;
    assert.ok(
      rules.some(
        (r) =>
          r['Status'] === 'Enabled' &&
          r['ExpirationInDays'] === 1 &&
          JSON.stringify(r['TagFilters']) === JSON.stringify([{ Key: PENDING_UPLOAD_TAG.key, Value: PENDING_UPLOAD_TAG.value }]) &&
          r['Prefix'] === undefined,
      ),
      JSON.stringify(rules),
    );
  });

  it('is not versioned and writes server access logs to the log bucket', () => {
    const props = media().properties;
    assert.equal(props['VersioningConfiguration'], undefined);
    const logging = props['LoggingConfiguration'] as { DestinationBucketName: { Ref: string } };
    const logBucket = resources(template, 'AWS::S3::Bucket').find((b) => b.logicalId === logging.DestinationBucketName.Ref);
    assert.ok(logBucket !== undefined);
  });
});

describe('identity', () => {
  it('signs in by email, keeps the handle in preferred_username and allows self sign-up', () => {
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      UsernameAttributes: ['email'],
      AutoVerifiedAttributes: ['email'],
      AdminCreateUserConfig: { AllowAdminCreateUserOnly: false },
      Schema: Match.arrayWith([Match.objectLike({ Name: 'preferred_username', Mutable: true })]),
      Policies: {
        PasswordPolicy: Match.objectLike({
          MinimumLength: Match.anyValue(),
          RequireLowercase: true,
          RequireUppercase: true,
          RequireNumbers: true,
          RequireSymbols: true,
        }),
      },
    });
    const policy = new Capture();
    template.hasResourceProperties('AWS::Cognito::UserPool', { Policies: { PasswordPolicy: policy } });
    assert.ok((policy.asObject()['MinimumLength'] as number) >= 12);
  });

  it('has one public app client with SRP, password and refresh flows and no OAuth', () => {
    template.resourceCountIs('AWS::Cognito::UserPoolClient', 1);
    template.hasResourceProperties('AWS::Cognito::UserPoolClient', {
      ExplicitAuthFlows: Match.arrayEquals(['ALLOW_USER_PASSWORD_AUTH', 'ALLOW_USER_SRP_AUTH', 'ALLOW_REFRESH_TOKEN_AUTH']),
      GenerateSecret: false,
      PreventUserExistenceErrors: 'ENABLED',
      AllowedOAuthFlowsUserPoolClient: false,
    });
  });

  it('wires the Cognito triggers to auth-hooks', () => {
    const hooks = lambdaFunction(template, 'auth-hooks').logicalId;
    const arn = { 'Fn::GetAtt': [hooks, 'Arn'] };
    template.hasResourceProperties('AWS::Cognito::UserPool', {
      LambdaConfig: { PreSignUp: arn, PostConfirmation: arn, PreTokenGeneration: arn },
    });
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'cognito-idp.amazonaws.com',
      FunctionName: arn,
    });
  });
});

describe('the rest', () => {
  it('has a Secrets Manager secret for the Agora certificate that nobody is granted yet', () => {
    const secret = resources(template, 'AWS::SecretsManager::Secret');
    assert.equal(secret.length, 1);
    assert.match(String(secret[0]!.properties['Name']), /^cosmos\/dev\/agora-app-certificate$/);
    const policies = resources(template, 'AWS::IAM::Policy').map((p) => JSON.stringify(p.properties));
    assert.ok(policies.every((p) => !p.includes(secret[0]!.logicalId)));
  });

  it('has an encrypted, TLS-only failure queue for the stream', () => {
    template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]),
      },
    });
  });

  it('outputs the same keys the local stack writes', () => {
    assert.deepEqual(Object.keys(template.toJSON()['Outputs'] as object).sort(), [...OUTPUT_KEYS].sort());
    template.hasOutput('cognitoEndpoint', {
      Value: { 'Fn::Join': ['', ['https://cognito-idp.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]] },
    });
  });
});
