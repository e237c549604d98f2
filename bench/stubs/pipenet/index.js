// Stands in for pipenet (package.json `overrides`). mcp-proxy's CLI imports it at start-up but calls it
// only for `--tunnel`, a public tunnel the bench never opens (and this closed network could not reach).
// The real package declares node >=22 and brings axios, koa and tldjs (with a postinstall) into every
// install of the workspace, for a feature nothing here uses.
export class TunnelUnavailableError extends Error {
  constructor() {
    super('mcp-proxy --tunnel is not available in this workspace: pipenet is replaced by a stub (bench/stubs/pipenet)');
    this.name = 'TunnelUnavailableError';
  }
}

export async function pipenet() {
  throw new TunnelUnavailableError();
}
