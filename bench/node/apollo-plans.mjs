// Benchmark only (bench/plans.py), never shipped: Apollo's query planner (@apollo/query-planner, Elastic-2.0) as
// the yardstick our planner's plans are compared with.
// Reads JSON lines {"id", "supergraph", "query", "operationName"?} on stdin; writes one JSON line per input:
// {"id", "fetches": N} (subgraph fetches in Apollo's plan) or {"id", "error": "..."} when Apollo cannot plan it.
import { createInterface } from 'node:readline';
import { Supergraph, operationFromDocument } from '@apollo/federation-internals';
import { QueryPlanner } from '@apollo/query-planner';
import { parse } from 'graphql';

const planners = new Map(); // supergraph SDL -> [supergraph, planner]

function plannerFor(sdl) {
  let entry = planners.get(sdl);
  if (!entry) {
    const supergraph = Supergraph.build(sdl);
    entry = [supergraph, new QueryPlanner(supergraph)];
    planners.set(sdl, entry);
  }
  return entry;
}

function countFetches(node) {
  if (!node) return 0;
  switch (node.kind) {
    case 'Fetch':
      return 1;
    case 'Sequence':
    case 'Parallel':
      return node.nodes.reduce((sum, child) => sum + countFetches(child), 0);
    case 'Flatten':
      return countFetches(node.node);
    case 'Condition':
      return countFetches(node.ifClause) + countFetches(node.elseClause);
    case 'Defer':
      return countFetches(node.primary?.node) + node.deferred.reduce((s, d) => s + countFetches(d.node), 0);
    case 'Subscription':
      return countFetches(node.primary) + countFetches(node.rest);
    default:
      throw new Error(`unknown plan node ${node.kind}`);
  }
}

const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  const input = JSON.parse(line);
  try {
    const [supergraph, planner] = plannerFor(input.supergraph);
    const operation = operationFromDocument(supergraph.apiSchema(), parse(input.query), {
      operationName: input.operationName,
    });
    const plan = planner.buildQueryPlan(operation);
    process.stdout.write(JSON.stringify({ id: input.id, fetches: countFetches(plan.node) }) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ id: input.id, error: String(error.message ?? error) }) + '\n');
  }
}
