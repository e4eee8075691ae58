import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadRoutes, parseRoutes } from '../lib/contract';
import { allowedActions, lambdaFunction, resources, roleOf, roleStatements, synth, type Statement } from './helpers';

const { template } = synth();
const routes = loadRoutes();

const table = resources(template, 'AWS::DynamoDB::Table')[0]!.logicalId;
const wsApi = resources(template, 'AWS::ApiGatewayV2::Api').find((a) => a.properties['ProtocolType'] === 'WEBSOCKET')!.logicalId;
const WRITE = /^dynamodb:(Put|Update|Delete|BatchWrite|TransactWrite|PartiQL(Insert|Update|Delete)|Create|Restore|Import)/;

function statementsOf(name: string): Statement[] {
  const { statements, managed } = roleStatements(template, roleOf(lambdaFunction(template, name)));
  assert.deepEqual(managed, [], `${name} must not use managed policies`);
  return statements;
}

describe('least privilege per function', () => {
  it('gives every function its own role', () => {
    const roles = Object.keys(routes.functions).map((n) => roleOf(lambdaFunction(template, n)));
    assert.equal(new Set(roles).size, roles.length);
  });

  for (const [name, spec] of Object.entries(routes.functions)) {
    describe(name, () => {
      const actions = allowedActions(template, name);

      it('touches only the services its grants name', () => {
        const allowed = new Set(['logs']);
        if (spec.table !== undefined || spec.stream) allowed.add('dynamodb');
        if (spec.connections) allowed.add('execute-api');
        if (spec.stream) allowed.add('sqs'); // the stream's on-failure queue
        if (spec.bucket !== undefined) allowed.add('s3');
        for (const action of actions) {
          assert.ok(allowed.has(action.split(':')[0]!), `${name} may not ${action}`);
          assert.ok(!/^[a-z-]+:\*$/.test(action), `${name} has a service-wide wildcard ${action}`);
        }
      });

      it(spec.table === 'readWrite' ? 'may write the table' : 'cannot write the table', () => {
        const writes = actions.filter((a) => WRITE.test(a));
        if (spec.table === 'readWrite') assert.ok(writes.includes('dynamodb:PutItem'));
        else assert.deepEqual(writes, []);
      });

      it(spec.table !== undefined ? 'reads the table and its indexes only' : 'has no table access', () => {
        const onTable = statementsOf(name).filter((s) => s.Action.some((a) => a.startsWith('dynamodb:') && a !== 'dynamodb:ListStreams'));
        if (spec.table === undefined && !spec.stream) return assert.deepEqual(onTable, []);
        for (const s of onTable) {
          for (const r of s.Resource) {
            const text = JSON.stringify(r);
            assert.ok(text.includes(`"${table}"`), `${name}: ${text} is not this table`);
          }
        }
        if (spec.table !== undefined) assert.ok(actions.includes('dynamodb:Query'));
      });

      it(spec.connections ? 'manages connections of this WebSocket stage only' : 'cannot post to WebSocket connections', () => {
        const manage = statementsOf(name).filter((s) => s.Action.includes('execute-api:ManageConnections'));
        if (!spec.connections) return assert.deepEqual(manage, []);
        assert.equal(manage.length, 1);
        assert.deepEqual(manage[0]!.Resource, [
          {
            'Fn::Join': [
              '',
              [
                'arn:',
                { Ref: 'AWS::Partition' },
                ':execute-api:',
                { Ref: 'AWS::Region' },
                ':',
                { Ref: 'AWS::AccountId' },
                ':',
                { Ref: wsApi },
                '/dev/*/@connections/*',
              ],
            ],
          },
        ]);
      });

      it('uses a bare * resource only for dynamodb:ListStreams (no resource-level permissions)', () => {
        for (const s of statementsOf(name).filter((st) => st.Resource.includes('*'))) {
          assert.deepEqual(s.Action, ['dynamodb:ListStreams'], name);
          assert.ok(spec.stream, `${name} lists streams without consuming one`);
        }
      });

      it('writes logs to its own log group only', () => {
        const group = (lambdaFunction(template, name).properties['LoggingConfig'] as { LogGroup: { Ref: string } }).LogGroup.Ref;
        for (const s of statementsOf(name).filter((st) => st.Action.some((a) => a.startsWith('logs:')))) {
          assert.deepEqual(s.Resource, [{ 'Fn::GetAtt': [group, 'Arn'] }], name);
          assert.deepEqual([...s.Action].sort(), ['logs:CreateLogStream', 'logs:PutLogEvents']);
        }
      });
    });
  }

  it('keeps messages (history) read-only', () => {
    assert.deepEqual(allowedActions(template, 'messages').filter((a) => WRITE.test(a)), []);
  });

  it('grants ManageConnections to the connection-granted functions and no one else', () => {
    const withManage = resources(template, 'AWS::Lambda::Function')
      .map((f) => ((f.properties['Tags'] ?? []) as { Key: string; Value: string }[]).find((t) => t.Key === 'cosmos:function')?.Value)
      .filter((n): n is string => n !== undefined && allowedActions(template, n).includes('execute-api:ManageConnections'))
      .sort();
    const granted = Object.entries(routes.functions)
      .filter(([, s]) => s.connections)
      .map(([n]) => n)
      .sort();
    assert.deepEqual(withManage, granted);
    const everyone = resources(template, 'AWS::IAM::Policy').filter((p) => JSON.stringify(p.properties).includes('execute-api:'));
    assert.equal(everyone.length, granted.length);
  });
});

describe('grants follow routes.json', () => {
  it('gives a function bucket access only when routes.json says so', () => {
    const raw = {
      functions: {
        ...Object.fromEntries(Object.entries(routes.functions).map(([n, s]) => [n, { ...s }])),
        'upload-presign': { table: 'read', bucket: 'readWrite', environment: ['TABLE_NAME', 'BUCKET_NAME'] },
      },
      httpRoutes: [...routes.httpRoutes, { routeKey: 'POST /uploads', function: 'upload-presign' }],
      webSocketRoutes: routes.webSocketRoutes,
      tableStreamConsumers: routes.tableStreamConsumers,
      cognitoTriggers: routes.cognitoTriggers,
    };
    const t = synth({ routes: parseRoutes(raw) }).template;
    const bucket = resources(t, 'AWS::S3::Bucket').find((b) => b.properties['CorsConfiguration'] !== undefined)!.logicalId;
    const actions = allowedActions(t, 'upload-presign');
    assert.ok(actions.includes('s3:PutObject'));
    assert.ok(actions.includes('s3:PutObjectTagging'));
    const env = (lambdaFunction(t, 'upload-presign').properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
    assert.deepEqual(env['BUCKET_NAME'], { Ref: bucket });
    for (const name of Object.keys(routes.functions)) {
      assert.ok(!allowedActions(t, name).some((a) => a.startsWith('s3:')), `${name} must not touch the bucket`);
    }
    assert.ok(t.findResources('AWS::ApiGatewayV2::Route', { Properties: { RouteKey: 'POST /uploads' } }));
  });
});
