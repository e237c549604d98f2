import { describeGraphSemantics } from '../testing/graph-semantics.suite';
import { openReplica, type GraphReplica } from '../testing/graph.fixtures';

describeGraphSemantics('SQLite', () => {
  let replica: GraphReplica | undefined;
  return {
    open: async () => (replica = await openReplica('sqlite::memory:')).graph,
    close: async () => replica?.dataSource.destroy(),
  };
});
