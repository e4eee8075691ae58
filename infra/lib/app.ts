/**
 * Builds the Cosmos app: one stack per stage, `cosmos-<stage>`, with cdk-nag's AwsSolutions checks
 * registered (a finding without an acknowledgement fails synth). Shared by bin/cosmos.ts and the
 * tests, so the tests check exactly what `cdk synth` produces.
 */
import { App, type AppProps, type Environment, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { stageConfig } from './config';
import type { RoutesContract, TableContract } from './contract';
import { CosmosStack } from './cosmos-stack';

export interface BuildAppOptions {
  readonly appProps?: AppProps;
  readonly env?: Environment;
  /** Contract overrides (tests); default: the files under shared/contract. */
  readonly routes?: RoutesContract;
  readonly tableContract?: TableContract;
}

export function buildApp(options: BuildAppOptions = {}): { app: App; stack: CosmosStack } {
  const app = new App(options.appProps);
  const config = stageConfig(app.node);
  const stack = new CosmosStack(app, `cosmos-${config.stage}`, {
    config,
    description: `Cosmos chat backend (${config.stage})`,
    env: options.env,
    routes: options.routes,
    tableContract: options.tableContract,
  });
  Tags.of(app).add('project', 'cosmos');
  Tags.of(app).add('stage', config.stage);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack };
}
