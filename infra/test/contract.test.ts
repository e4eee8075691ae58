import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { App } from 'aws-cdk-lib';
import { stageConfig } from '../lib/config';
import { CONTRACT_DIR, ContractError, loadRoutes, loadTable, parseRoutes } from '../lib/contract';

const REPO = path.resolve(__dirname, '..', '..');

function validRoutes(): Record<string, unknown> {
  return {
    functions: {
      api: { table: 'read', environment: ['TABLE_NAME'] },
      hooks: { table: 'readWrite', environment: ['TABLE_NAME'] },
      fanout: { table: 'read', connections: true, stream: true, environment: ['TABLE_NAME', 'CONNECTIONS_ENDPOINT'] },
      connect: { table: 'readWrite', environment: ['TABLE_NAME', 'USER_POOL_ISSUER'] },
    },
    httpRoutes: [{ routeKey: 'GET /things/{id}', function: 'api' }],
    webSocketRoutes: [{ routeKey: '$connect', function: 'connect' }],
    tableStreamConsumers: ['fanout'],
    cognitoTriggers: { PreSignUp: 'hooks' },
  };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- test fixtures are edited freely
type Raw = any;

function withChange(change: (r: Raw) => void): Record<string, unknown> {
  const routes = validRoutes();
  change(routes);
  return routes;
}

describe('routes.json contract', () => {
  it('loads the repository routes.json and table.json', () => {
    const routes = loadRoutes();
    assert.ok(Object.keys(routes.functions).length > 0);
    assert.ok(routes.httpRoutes.length > 0);
    assert.equal(loadTable().partitionKey, 'PK');
  });

  it('names only functions that exist as workspace crates of the same name', () => {
    for (const name of Object.keys(loadRoutes().functions)) {
      const manifest = path.join(REPO, 'functions', name, 'Cargo.toml');
      assert.ok(fs.existsSync(manifest), `functions/${name}/Cargo.toml is missing`);
      const pkg = /^\[package\][^[]*?^name\s*=\s*"([^"]+)"/ms.exec(fs.readFileSync(manifest, 'utf8'));
      assert.equal(pkg?.[1], name, `functions/${name} must be the package (and binary) ${name}`);
    }
  });

  it('accepts a well-formed contract', () => {
    const parsed = parseRoutes(validRoutes());
    assert.deepEqual(parsed.httpRoutes[0], { routeKey: 'GET /things/{id}', method: 'GET', path: '/things/{id}', function: 'api' });
    assert.equal(parsed.functions['fanout']?.connections, true);
    assert.equal(parsed.functions['api']?.connections, false);
  });

  const rejects: [string, (r: Raw) => void, RegExp][] = [
    ['an unknown grant', (r) => (r.functions.api.admin = true), /functions\.api\.admin is not a grant/],
    ['an unknown env var', (r) => r.functions.api.environment.push('SECRET_SAUCE'), /environment\[1\] must be one of/],
    ['an unknown table access', (r) => (r.functions.api.table = 'write'), /functions\.api\.table must be one of/],
    ['TABLE_NAME without a table grant', (r) => delete r.functions.api.table, /takes TABLE_NAME but has no table grant/],
    ['CONNECTIONS_ENDPOINT without the grant', (r) => r.functions.api.environment.push('CONNECTIONS_ENDPOINT'), /no connections grant/],
    ['a route to an undeclared function', (r) => (r.httpRoutes[0].function = 'nope'), /names function "nope"/],
    ['a malformed route key', (r) => (r.httpRoutes[0].routeKey = 'GET things'), /must look like "GET \/path\/\{param\}"/],
    ['an unknown HTTP method', (r) => (r.httpRoutes[0].routeKey = 'FETCH /things'), /method must be one of/],
    ['a duplicate route key', (r) => r.httpRoutes.push({ ...r.httpRoutes[0] }), /"GET \/things\/\{id\}" appears twice/],
    ['a stream consumer without stream: true', (r) => delete r.functions.fanout.stream, /stream must be true exactly when fanout/],
    ['stream: true on a non-consumer', (r) => (r.functions.api.stream = true), /stream must be true exactly when api/],
    ['an unknown Cognito trigger', (r) => (r.cognitoTriggers.OnLogin = 'hooks'), /cognitoTriggers key must be one of/],
    [
      'pool settings on a trigger function (circular dependency)',
      (r) => r.functions.hooks.environment.push('USER_POOL_ISSUER'),
      /is a Cognito trigger and cannot take USER_POOL_ISSUER/,
    ],
    ['a function nothing invokes', (r) => (r.functions.orphan = { environment: [] }), /orphan is served by no route/],
    ['a crate name that cannot be one', (r) => (r.functions.Bad_Name = { environment: [] }), /a function name is its crate name/],
    ['WebSocket routes without $connect', (r) => (r.webSocketRoutes[0].routeKey = '$default'), /needs a \$connect route/],
  ];
  for (const [what, change, message] of rejects) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parseRoutes(withChange(change)), (e: unknown) => e instanceof ContractError && message.test(e.message));
    });
  }
});

describe('table.json contract', () => {
  it('is the one the Rust side reads', () => {
    assert.ok(fs.existsSync(path.join(CONTRACT_DIR, 'table.json')));
    const table = loadTable();
    assert.equal(table.streamView, 'NEW_AND_OLD_IMAGES');
    assert.ok(table.timeToLiveAttribute !== undefined);
  });
});

describe('stage config', () => {
  const config = (context: Record<string, unknown>) => stageConfig(new App({ context }).node);

  it('defaults to dev with local web origins and no retention', () => {
    const c = config({});
    assert.equal(c.stage, 'dev');
    assert.deepEqual(c.webOrigins, ['http://localhost:5173', 'http://127.0.0.1:5173']);
    assert.equal(c.retainData, false);
    assert.equal(c.threatProtection, false);
    assert.equal(c.webSocketAccessLogs, false);
  });

  it('retains data and enforces threat protection on prod', () => {
    const c = config({ stage: 'prod', webOrigin: 'https://app.example.com' });
    assert.deepEqual(c.webOrigins, ['https://app.example.com']);
    assert.equal(c.retainData, true);
    assert.equal(c.threatProtection, true);
  });

  it('requires an explicit web origin outside dev', () => {
    assert.throws(() => config({ stage: 'staging' }), /needs -c webOrigin/);
  });

  it('reads -c booleans given as strings and refuses anything else', () => {
    assert.equal(config({ retainData: 'true' }).retainData, true);
    assert.throws(() => config({ retainData: 'yes' }), /retainData must be true or false/);
  });

  it('refuses stage names API Gateway or the stack name cannot take', () => {
    assert.throws(() => config({ stage: 'Dev_1' }), /context stage must match/);
  });

  it('refuses a web origin with a path', () => {
    assert.throws(() => config({ webOrigin: 'https://app.example.com/x' }), /is not an origin/);
  });
});
