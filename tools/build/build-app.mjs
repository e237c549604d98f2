// Builds one app into dist/apps/<app>/main.js: workspace libs bundled in, node_modules left external,
// decorator metadata kept (NestJS dependency injection needs it), and src/assets/ copied as they are. Usage: node tools/build/build-app.mjs <app>
import { cpSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const webpack = require('webpack');
const nodeExternals = require('webpack-node-externals');
const { TsconfigPathsPlugin } = require('tsconfig-paths-webpack-plugin');

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const app = process.argv[2];
if (!app) {
  console.error('usage: build-app.mjs <app>');
  process.exit(2);
}

const config = {
  mode: 'production',
  target: 'node20',
  context: root,
  entry: path.join(root, 'apps', app, 'src/main.ts'),
  output: { path: path.join(root, 'dist/apps', app), filename: 'main.js', clean: true },
  devtool: 'source-map',
  optimization: { minimize: false },
  externalsPresets: { node: true },
  externals: [nodeExternals({ modulesDir: path.join(root, 'node_modules') })],
  resolve: {
    extensions: ['.ts', '.js'],
    plugins: [new TsconfigPathsPlugin({ configFile: path.join(root, 'tsconfig.base.json') })],
  },
  module: {
    rules: [
      {
        test: /\.ts$/,
        loader: 'ts-loader',
        exclude: /node_modules/,
        // Type checking is `npm run typecheck`, once for the whole workspace.
        options: { transpileOnly: true, configFile: path.join(root, 'tsconfig.base.json') },
      },
    ],
  },
  // NestJS requires optional packages lazily (only when used); leave them out of the bundle.
  ignoreWarnings: [
    /Critical dependency/,
    /Can't resolve '(@nestjs\/(websockets|microservices|platform-socket\.io)|class-transformer|class-validator|@grpc|kafkajs|mqtt|amqp|ioredis)/,
  ],
  stats: 'errors-warnings',
};

webpack(config, (error, stats) => {
  if (error) {
    console.error(error);
    process.exit(1);
  }
  const info = stats.toString({ colors: false, all: false, errors: true, warnings: true });
  if (info.trim()) console.log(info);
  if (stats.hasErrors()) process.exit(1);
  // Files the app serves as they are (the gateway's admin page) go next to main.js.
  const assets = path.join(root, 'apps', app, 'src/assets');
  if (existsSync(assets)) cpSync(assets, path.join(root, 'dist/apps', app, 'assets'), { recursive: true });
  console.log(`built dist/apps/${app}/main.js`);
});
