// Apollo Gateway (@apollo/gateway 2.14 on @apollo/server 5), the peer our gateway is measured against by
// `make bench-gateway`. BENCHMARK ONLY, NEVER SHIPPED: @apollo/gateway is under the Elastic License 2.0 (ELv2), which
// is not an open-source licence; nothing in the product depends on it or on this directory.
//
// Stock settings, as people run it: the supergraph from a file (no polling, no managed federation), the default
// fetcher, the default query plan cache; production mode (no landing page). N worker processes share the port
// through node:cluster, like `demimas-gateway serve --workers N`.
//
//   node apollo-gateway.mjs --supergraph FILE --port P [--host 127.0.0.1] [--workers N]
// Prints "listening <port>" once every worker accepts; stops its workers on SIGINT/SIGTERM.
import cluster from "node:cluster";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    supergraph: { type: "string" },
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    workers: { type: "string", default: "1" },
  },
});
if (!args.supergraph || !args.port) {
  console.error("usage: node apollo-gateway.mjs --supergraph FILE --port P [--host H] [--workers N]");
  process.exit(2);
}
const workers = Number(args.workers);
if (!Number.isInteger(workers) || workers < 1) throw new Error(`--workers must be a positive integer: ${args.workers}`);
process.env.NODE_ENV ??= "production";

if (cluster.isPrimary) {
  let ready = 0;
  let stopping = false;
  const stop = (code) => {
    stopping = true;
    for (const worker of Object.values(cluster.workers)) worker.process.kill("SIGTERM");
    setTimeout(() => process.exit(code), 2000).unref();
    if (Object.keys(cluster.workers).length === 0) process.exit(code);
  };
  cluster.on("message", (_worker, message) => {
    if (message === "listening" && ++ready === workers) console.log(`listening ${args.port}`);
  });
  cluster.on("exit", (worker, code, signal) => {
    if (!stopping) {
      console.error(`worker ${worker.process.pid} died (${signal ?? code}); stopping`);
      stop(1);
    } else if (Object.keys(cluster.workers).length === 0) process.exit(0);
  });
  for (let i = 0; i < workers; i++) cluster.fork();
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => stop(0));
} else {
  const { ApolloGateway } = await import("@apollo/gateway");
  const { ApolloServer } = await import("@apollo/server");
  const { startStandaloneServer } = await import("@apollo/server/standalone");
  const gateway = new ApolloGateway({ supergraphSdl: readFileSync(args.supergraph, "utf8") });
  const server = new ApolloServer({ gateway });
  await startStandaloneServer(server, { listen: { port: Number(args.port), host: args.host } });
  process.send("listening");
  for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
}
