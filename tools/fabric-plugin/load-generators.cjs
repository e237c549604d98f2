// The module Nx loads for this plugin's generators (generators.json points here).
//
// Why not point generators.json at the .ts sources: on Node 20 (no native type stripping) Nx 23 loads a
// .ts generator only through @swc-node/register or ts-node (nx/src/plugins/js/utils/register.js), and
// neither is installed. @swc/core is (jest compiles with it), so this file registers a require hook
// that compiles this plugin's own .ts files with it, then loads src/index.ts. Files outside this folder
// go to whatever handled .ts before. Same compiler settings as jest (the root .swcrc).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const pluginRoot = __dirname + path.sep;
const swcrc = JSON.parse(fs.readFileSync(path.join(__dirname, '../../.swcrc'), 'utf8'));
delete swcrc.$schema;

const previous = require.extensions['.ts'];
require.extensions['.ts'] = function compilePluginTypeScript(module, filename) {
  if (!filename.startsWith(pluginRoot)) {
    return (previous ?? require.extensions['.js'])(module, filename);
  }
  const source = fs.readFileSync(filename, 'utf8');
  const { code } = swc.transformSync(source, { ...swcrc, swcrc: false, filename });
  module._compile(code, filename);
};

module.exports = require('./src/index.ts');
