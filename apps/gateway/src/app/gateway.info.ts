/** Who the gateway says it is, to clients of every protocol era and to the other replicas. */
export const SERVER_INFO = { name: 'mcp-fabric', title: 'MCP Fabric', version: '0.1.0' } as const;
