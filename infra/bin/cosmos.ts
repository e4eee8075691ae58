#!/usr/bin/env node
/**
 * The Cosmos CDK app: `npx cdk deploy -c stage=dev` (dev is the default stage). See lib/config.ts
 * for the context keys and README.md for what bundling needs.
 */
import { buildApp } from '../lib/app';

// COSMOS_SKIP_BUNDLING=1 (npm run synth, CI) synthesizes without building the Rust functions:
// the CLI refuses user context keys starting with `aws:`, so the app sets the bundling context itself.
const skipBundling = process.env['COSMOS_SKIP_BUNDLING'] === '1';

buildApp({
  appProps: skipBundling ? { postCliContext: { 'aws:cdk:bundling-stacks': [] } } : {},
  // Account and region come from the CLI's credentials/profile at deploy time; synth needs neither.
  env: { account: process.env['CDK_DEFAULT_ACCOUNT'], region: process.env['CDK_DEFAULT_REGION'] },
});
